from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("fhir", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="ImportCheckpoint",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("file_hash", models.CharField(max_length=64, unique=True)),
                ("path", models.CharField(max_length=500)),
                ("actor", models.CharField(max_length=150)),
                ("lines_done", models.PositiveIntegerField(default=0)),
                ("byte_offset", models.BigIntegerField(default=0)),
                ("counts", models.JSONField(default=dict)),
                ("rejects", models.JSONField(default=list)),
                ("finished", models.BooleanField(default=False)),
                ("started_at", models.DateTimeField(auto_now_add=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
            ],
        ),
    ]

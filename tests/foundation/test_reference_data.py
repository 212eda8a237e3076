import pytest

from helhet.organisations.models import CatchmentDistrict, HealthRegion, HealthTrust, Municipality
from helhet.organisations.refdata import DATA_DIR, ReferenceDataError, load_reference_data


def test_shipped_reference_data(refdata):
    assert HealthRegion.objects.count() == 4
    assert Municipality.objects.count() == 357
    assert CatchmentDistrict.objects.filter(municipality_id="0301").count() == 17
    oslo = Municipality.objects.get(number="0301")
    assert oslo.centrality_class == 1 and oslo.catchment_trust is None
    karasjok = Municipality.objects.get(number="5610")
    assert karasjok.centrality_class == 6 and karasjok.catchment_trust.region.code == "HN"
    assert not Municipality.objects.filter(catchment_trust__isnull=True).exclude(number="0301").exists()
    assert HealthTrust.objects.get(code="hbe").region.name == "Helse Vest RHF"


def test_newer_classification_updates_in_place(refdata, tmp_path):
    source = (DATA_DIR / "municipalities.csv").read_text(encoding="utf-8").splitlines()
    header, rows = source[0], source[1:]
    changed = [row.replace("Eigersund,Eigersund,11,Rogaland,Rogaland,4,747", "Eigersund,Eigersund,11,Rogaland,"
                           "Rogaland,3,790") for row in rows]
    newer = tmp_path / "municipalities.csv"
    newer.write_text("\n".join([header, *changed]) + "\n", encoding="utf-8")
    load_reference_data(municipalities_csv=newer)
    assert Municipality.objects.count() == 357
    assert Municipality.objects.get(number="1101").centrality_class == 3


def test_bad_file_is_refused_without_partial_update(refdata, tmp_path):
    source = (DATA_DIR / "municipalities.csv").read_text(encoding="utf-8").splitlines()
    bad = [source[0], source[1].replace(",1,1000,", ",1,999,"), source[2].replace(",4,747,", ",9,747,")]
    path = tmp_path / "bad.csv"
    path.write_text("\n".join(bad) + "\n", encoding="utf-8")
    with pytest.raises(ReferenceDataError, match="line 3: centrality class 9"):
        load_reference_data(municipalities_csv=path)
    assert Municipality.objects.get(number="0301").centrality_index == 1000

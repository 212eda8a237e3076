"""How domain apps plug into the shared mechanisms without editing them.

An app may have any of these modules; each is imported once when Django starts,
and registers itself with the shared registry it extends:

- `synth_steps.py`  — steps for the synthetic population (`helhet.synth.registry.synth_step`)
- `panels.py`       — panels on the person page (`helhet.web.panels.person_panel`)
- `fhir_resources.py` — FHIR resource handlers (`helhet.fhir.registry.register`)
- `alerts.py`       — alert rules for the worklist (issue: care pathways)
"""

from __future__ import annotations

import importlib
import importlib.util

EXTENSION_MODULES = ("synth_steps", "panels", "fhir_resources", "alerts")


def load_app_extensions(app_module: str) -> None:
    for name in EXTENSION_MODULES:
        qualified = f"{app_module}.{name}"
        if importlib.util.find_spec(qualified) is not None:
            importlib.import_module(qualified)

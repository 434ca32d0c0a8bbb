"""The seed guide's end-to-end smoke test: verify data, generate, validate, show stats.

Runs the real ``tars retro`` command on data/test_data into test_output/ and
checks the outputs against the exported JSON Schema and the nine sections. The
bundled week is built to give the seed's figures, so they are asserted too.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import jsonschema

from tars_lib.core.models import Retrospective
from tars_lib.retro.markdown import SECTION_HEADINGS

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data" / "test_data"
OUT = ROOT / "test_output"
EXPECTED = {
    "Successes": 8,
    "Degradations": 5,
    "Unexpected Drifts": 3,
    "Cost Trend": "stable",
    "Recommendations": 10,
    "Process Improvements": 5,
    "Action Items": 7,
}
RULE = "=" * 60


def fail(message: str) -> None:
    print(f"  ✗ {message}")
    print(f"\n{RULE}\nSMOKE TEST FAILED\n{RULE}")
    sys.exit(1)


def main() -> None:
    print(f"{RULE}\nPhase 14.6 - End-to-End Pipeline Smoke Test\n{RULE}\n")
    print("Step 1: Verifying test data...")
    checks = [
        ("GA KPI summary found", [DATA / "ga_kpis" / "ga_kpi_summary.json"]),
        (
            "All 7 daily summaries found",
            [DATA / "stability" / f"day_{d:02d}_summary.json" for d in range(1, 8)],
        ),
        ("Regression summary found", [DATA / "regression" / "regression_summary.json"]),
        ("Anomaly events found", [DATA / "anomalies" / "anomaly_events.json"]),
    ]
    for label, paths in checks:
        missing = [str(p) for p in paths if not p.is_file()]
        if missing:
            fail(f"missing: {', '.join(missing)}")
        print(f"  ✓ {label}")

    print("\nStep 2: Running retrospective generator...")
    md = OUT / "GA_7DAY_RETROSPECTIVE.md"
    js = md.with_suffix(".json")
    tars = Path(sys.executable).with_name("tars")
    proc = subprocess.run(
        [
            str(tars),
            "retro",
            "--ga-data",
            str(DATA / "ga_kpis"),
            "--7day-data",
            str(DATA / "stability"),
            "--regression",
            str(DATA / "regression" / "regression_summary.json"),
            "--anomalies",
            str(DATA / "anomalies" / "anomaly_events.json"),
            "--output",
            str(md),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    print(f"  {proc.stdout.strip() or proc.stderr.strip()}")
    if proc.returncode != 0:
        fail(f"tars retro exited {proc.returncode}: {proc.stderr.strip()}")

    print("\nStep 3: Verifying outputs...")
    if not md.is_file():
        fail("Markdown report not generated")
    print("  ✓ Markdown report generated")
    if not js.is_file():
        fail("JSON report not generated")
    print("  ✓ JSON report generated")
    data = json.loads(js.read_text(encoding="utf-8"))
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([str(tars), "schema", "--output-dir", tmp], check=True, capture_output=True)
        schema = json.loads((Path(tmp) / "retrospective.schema.json").read_text())
    try:
        jsonschema.validate(data, schema)
        retro = Retrospective.model_validate(data)
    except Exception as exc:  # any validation failure is the finding
        fail(f"JSON structure invalid: {exc}")
    print("  ✓ JSON structure validated")

    print("\nStep 4: Validating Markdown sections...")
    text = md.read_text(encoding="utf-8")
    positions = [text.find(f"\n## {h}\n") for h in SECTION_HEADINGS]
    missing = [h for h, p in zip(SECTION_HEADINGS, positions, strict=True) if p < 0]
    if missing:
        fail(f"sections missing: {', '.join(missing)}")
    if positions != sorted(positions):
        fail("sections out of the seed's order")
    print("  ✓ All expected Markdown sections found")

    stats = {
        "Successes": len(retro.successes),
        "Degradations": len(retro.degradations),
        "Unexpected Drifts": len(retro.unexpected_drifts),
        "Cost Trend": retro.cost_analysis.cost_trend,
        "Recommendations": len(retro.recommendations_v1_0_2),
        "Process Improvements": len(retro.process_improvements),
        "Action Items": len(retro.action_items),
    }
    wrong = {k: (v, EXPECTED[k]) for k, v in stats.items() if v != EXPECTED[k]}
    if wrong:
        fail(
            "figures differ from the seed's: "
            + ", ".join(f"{k} {got} (expected {want})" for k, (got, want) in wrong.items())
        )

    print(f"\n{RULE}\nSMOKE TEST PASSED\n{RULE}\n")
    print("Reports generated:")
    print(f"  - Markdown: {md.relative_to(ROOT)}")
    print(f"  - JSON: {js.relative_to(ROOT)}\n")
    print("Quick Stats:")
    for key, value in stats.items():
        print(f"  - {key}: {value}")


if __name__ == "__main__":
    main()

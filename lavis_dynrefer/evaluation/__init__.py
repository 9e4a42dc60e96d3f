"""Pure metric functions of the four benchmarks (data-and-metrics.md section 3, method.md 6).

``evaluate_<task>(gt, results) -> dict`` takes a validated annotation file and validated result
records and returns the task's metrics (x100). The metrics command
(``python -m lavis_dynrefer.evaluation TASK --gt GT.json --results RESULTS.json``) and the LAVIS
tasks' ``after_evaluation`` both call these, so training-time validation and the command agree.
"""

from lavis_dynrefer.evaluation.densecap import evaluate_densecap
from lavis_dynrefer.evaluation.grounding import evaluate_grounding
from lavis_dynrefer.evaluation.ovad import evaluate_ovad
from lavis_dynrefer.evaluation.recognition import evaluate_recognition
from lavis_dynrefer.evaluation.region_caption import evaluate_region_caption
from lavis_dynrefer.evaluation.results import (
    PredictedRegion,
    ResultFormatError,
    load_results,
    parse_results,
)

# Command-line task name -> metric function.
EVALUATORS = {
    "region_caption": evaluate_region_caption,
    "densecap": evaluate_densecap,
    "ovad": evaluate_ovad,
    "recognition": evaluate_recognition,
    "grounding": evaluate_grounding,
}

__all__ = [
    "EVALUATORS",
    "PredictedRegion",
    "ResultFormatError",
    "evaluate_densecap",
    "evaluate_grounding",
    "evaluate_ovad",
    "evaluate_recognition",
    "evaluate_region_caption",
    "load_results",
    "parse_results",
]

"""年报审核: review of Chinese government information disclosure annual reports (政府信息公开工作年度报告)."""
from review.api import check, check_paths, review_document
from review.models import Finding, IngestError, Report, ReviewError, ReviewResult
from review.rules import RULES_VERSION

__version__ = "0.1.0"
__all__ = ["check", "check_paths", "review_document", "ReviewResult", "Report", "Finding", "IngestError",
           "ReviewError", "RULES_VERSION", "__version__"]

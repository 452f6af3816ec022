"""Kept for older imports: the UI is the package review.ui (one module per tab over review.ui.service)."""
from review.ui.app import build_app, main  # noqa: F401
from review.ui.render import *  # noqa: F401,F403
from review.ui.service import *  # noqa: F401,F403
from review.ui.service import QueueView, Refused, Services, batch_folder, queue_rows, short_source  # noqa: F401

if __name__ == "__main__":  # pragma: no cover
    main()

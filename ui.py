"""年报审核界面 — the review UI (Gradio) for 政府信息公开工作年度报告.

    python ui.py                              # http://127.0.0.1:7860, single reviewer, this machine only
    python ui.py --port 8080 --data DIR       # another port; the store and sign-off record in DIR
    python ui.py --users users.json --host 0.0.0.0   # for a team: login required (review users add NAME)
    python ui.py --db postgresql+psycopg://user:pass@host/db   # a shared sign-off database

The same as `review ui`; see review/ui/ for the options and what the page shows.
"""

if __name__ == "__main__":
    from review.ui.app import main

    main()

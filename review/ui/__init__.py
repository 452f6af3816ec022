"""The review UI: a Gradio app in Chinese over the Python API (review.llm.service.Assistant for the review,
explanations, chat and drafts; review.signoff.SignoffDB for every decision; review.users.Users for login).

    python ui.py [--host 127.0.0.1] [--port 7860] [--users FILE] [--db URL] [--data DIR] [--history DIR ...]
                 [--batch-root DIR ...]
    review ui ...                      (the same options)

A thin shell: it never decides a finding. It shows what the review found and records what the reviewer decides.
One module per part of the page, over one service layer:

    app.py          the page (header and tabs), the context the tabs share, main()
    service.py      the functions the tabs call: open/review/register a report, who the reviewer is, record a
                    decision, conclude a report (通过 with open errors gated), batch folders and the queue
    render.py       the HTML the page shows (pure functions of results and decisions), CSS, the keyboard script
    security.py     login throttling and lockout, sessions checked against the users file, routes hardened
    tab_review.py   单篇审核: findings, explanation, finding decisions, tables, text
    tab_chat.py     对话
    tab_draft.py    第五部分草稿
    tab_signoff.py  审核结论与记录
    tab_batch.py    批量审核: batch runs, the queue, exports

Without users the app serves the loopback address only and asks for a 审核人 name before any decision (the
browser remembers it); with users it requires login and records the logged-in name. Binding a non-loopback
address with no users is refused (exit status 2).
"""


def main(argv=None) -> int:
    from review.ui.app import main as _main
    return _main(argv)


def build_app(services):
    from review.ui.app import build_app as _build
    return _build(services)

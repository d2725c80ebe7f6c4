"""Evidence files: only from the evidence folder, copied into govcal's own store by
content and kept read-only; nothing else on the machine can be named as evidence."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from govcal.models.evidence import EvidenceRefused, EvidenceStore

runner = CliRunner()
MEETING = "wfscp:lsp-meeting:2026-11-11"


def govcal(*args: str):
    from govcal.cli import app

    return runner.invoke(app, list(args), catch_exceptions=False)


@pytest.fixture
def inbox(tmp_path) -> Path:
    folder = tmp_path / "data" / "evidence-inbox"  # the default GOVCAL_EVIDENCE_FOLDER
    folder.mkdir(parents=True)
    return folder


@pytest.fixture
def synced(inbox, migrated_data):
    result = govcal("sync", "--as-of", "2026-11-24", "-p", "wfscp")
    assert result.exit_code == 0, result.stderr


def meeting_state() -> tuple[str, str | None, str | None]:
    from govcal.models.db import session_scope
    from govcal.models.queries import occurrence
    from govcal.models.settings import get_settings

    with session_scope(get_settings()) as session:
        row = occurrence(session, MEETING)
        return row.lifecycle, row.evidence_file, row.evidence_url


def store_files(tmp_path) -> list[Path]:
    root = tmp_path / "data" / "evidence"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def test_a_file_in_the_evidence_folder_is_copied_in_by_content_and_read_only(
    synced, inbox, tmp_path
):
    (inbox / "minutes.pdf").write_bytes(b"%PDF-1.4 minutes")
    done = govcal("complete", MEETING, "--evidence", "minutes.pdf", "--on", "2026-11-11")
    assert done.exit_code == 0, done.stderr
    assert f"({MEETING}) completed on 2026-11-11 by test-user." in done.stdout
    lifecycle, kept, _url = meeting_state()
    copy = Path(kept or "")
    assert lifecycle == "completed" and copy in store_files(tmp_path)
    assert copy.read_bytes() == b"%PDF-1.4 minutes" and copy.stat().st_mode & 0o222 == 0
    # govcal's user alone reads it (a safeguarding record), whatever the umask
    assert copy.stat().st_mode & 0o777 == 0o400
    assert {p.stat().st_mode & 0o777 for p in copy.parents[:3]} == {0o700}
    (inbox / "minutes.pdf").write_bytes(b"edited afterwards")  # the record does not change
    assert copy.read_bytes() == b"%PDF-1.4 minutes"


@pytest.mark.parametrize(
    ("named", "says"),
    [
        ("/etc/passwd", "is a system file"),
        ("/proc/self/environ", "is a system file"),
        ("/dev/zero", "is a system file"),
        ("{tmp}/elsewhere.pdf", "is outside the evidence folder"),
        ("link-to-passwd.pdf", "is a system file"),  # a link in the folder to /etc/passwd
        ("link-to-elsewhere.pdf", "is a link to a file outside the evidence folder"),
        # a hard link is the file itself (found: one to /etc/shadow was copied in)
        ("hard-link.pdf", "is a hard link (the file has other names, perhaps outside"),
        ("../elsewhere.pdf", "may not contain '..'"),
        ("a-folder", "is a folder"),
        ("pipe", "is a device or pipe"),
        (".env", "is a hidden file"),
        ("missing.pdf", "neither an http(s) link nor an existing file"),
        ("huge.pdf", "the limit is 50 MB"),
    ],
)
def test_anything_but_a_document_in_the_evidence_folder_is_refused_with_one_line(
    synced, inbox, tmp_path, named, says
):
    (tmp_path / "elsewhere.pdf").write_bytes(b"private")
    (inbox / "link-to-passwd.pdf").symlink_to("/etc/passwd")
    (inbox / "link-to-elsewhere.pdf").symlink_to(tmp_path / "elsewhere.pdf")
    os.link(tmp_path / "elsewhere.pdf", inbox / "hard-link.pdf")
    (inbox / "a-folder").mkdir()
    os.mkfifo(inbox / "pipe")
    (inbox / ".env").write_text("SECRET=1")
    with open(inbox / "huge.pdf", "wb") as huge:
        huge.truncate(50 * 1024 * 1024 + 1)  # sparse: no disk used
    before = meeting_state()
    result = govcal("complete", MEETING, "--evidence", named.format(tmp=tmp_path))
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith("Error: evidence ") and says in lines[0]
    assert lines[1:] == ["Nothing was changed."]
    assert result.stdout == ""
    assert meeting_state() == before  # nothing recorded
    assert store_files(tmp_path) == []  # nothing copied


def test_a_refused_record_leaves_no_copy_in_the_store(synced, inbox, tmp_path):
    first = govcal(
        "complete", MEETING, "--evidence", "https://example.org/minutes", "--on", "2026-11-11"
    )
    assert first.exit_code == 0, first.stderr
    (inbox / "minutes.pdf").write_bytes(b"%PDF")
    result = govcal("complete", MEETING, "--evidence", "minutes.pdf", "--on", "2026-11-11")
    assert result.exit_code == 1 and "already completed" in result.stderr
    assert store_files(tmp_path) == []


def test_the_evidence_folder_is_a_setting(synced, tmp_path, monkeypatch):
    from govcal.models.settings import get_settings

    shared = tmp_path / "shared-drive"
    shared.mkdir()
    (shared / "minutes.pdf").write_bytes(b"%PDF shared")
    monkeypatch.setenv("GOVCAL_EVIDENCE_FOLDER", str(shared))
    get_settings.cache_clear()
    done = govcal(
        "complete", MEETING, "--evidence", str(shared / "minutes.pdf"), "--on", "2026-11-11"
    )
    assert done.exit_code == 0, done.stderr
    assert Path(meeting_state()[1] or "").read_bytes() == b"%PDF shared"


def test_the_same_document_twice_is_stored_once(tmp_path):
    inbox = tmp_path / "in"
    inbox.mkdir()
    (inbox / "a.pdf").write_bytes(b"same")
    store = EvidenceStore(root=tmp_path / "store", inbox=inbox)
    first, created = store.add("a.pdf")
    again, created_again = store.add(str(inbox / "a.pdf"))
    assert (first, created, created_again) == (again, True, False)
    with pytest.raises(EvidenceRefused, match="outside the evidence folder"):
        store.add(first)


@pytest.mark.parametrize("folder", ["/", "/etc", "~"])
def test_an_evidence_folder_that_would_expose_the_machine_is_refused(tmp_path, folder):
    store = EvidenceStore(root=tmp_path / "store", inbox=Path(folder).expanduser())
    with pytest.raises(EvidenceRefused, match="set GOVCAL_EVIDENCE_FOLDER to a folder kept"):
        store.add("/etc/hostname")
    assert not (tmp_path / "store").exists()


def test_evidence_kept_by_one_worker_is_read_back_by_another_with_its_own_data_folder(
    synced, inbox, tmp_path, monkeypatch
):
    """Two workers share the database and the store URL, never a data folder: what one
    records, the other copies out byte for byte, and a changed copy is refused."""
    from govcal.models.settings import get_settings

    shared = tmp_path / "object-store"  # stands for s3://...: outside both data folders
    monkeypatch.setenv("GOVCAL_EVIDENCE_STORE_URL", f"file://{shared}")
    monkeypatch.setenv("GOVCAL_DATABASE_URL", f"sqlite:///{tmp_path / 'data' / 'govcal.db'}")
    get_settings.cache_clear()
    (inbox / "minutes.pdf").write_bytes(b"%PDF-1.4 minutes of November")
    done = govcal("complete", MEETING, "--evidence", "minutes.pdf", "--on", "2026-11-11")
    assert done.exit_code == 0, done.stderr
    kept = meeting_state()[1] or ""
    assert kept.startswith(f"file://{shared}/") and store_files(tmp_path) == []

    monkeypatch.setenv("GOVCAL_DATA_DIR", str(tmp_path / "other-worker"))
    get_settings.cache_clear()
    copied = govcal("evidence", MEETING, "--out", str(tmp_path / "read-back.pdf"))
    assert copied.exit_code == 0, copied.stderr
    assert (tmp_path / "read-back.pdf").read_bytes() == b"%PDF-1.4 minutes of November"

    stored = next(p for p in shared.rglob("*") if p.is_file())
    stored.chmod(0o600)
    stored.write_bytes(b"changed behind govcal's back")
    refused = govcal("evidence", MEETING, "--out", str(tmp_path / "again.pdf"))
    assert refused.exit_code == 1 and "no longer matches what was recorded" in refused.stderr
    assert not (tmp_path / "again.pdf").exists()

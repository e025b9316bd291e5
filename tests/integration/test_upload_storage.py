"""Upload storage: the directory store and an S3-compatible bucket (a real moto server
process: scripts/s3-test-server.sh under `make test-pg`, or started here), by content."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest

from placements.compliance import services, storage
from placements.extensions import db
from placements.models import StoredFile
from placements.timeutil import today_uk

PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\ntrailer<<>>\n%%EOF\n"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 32


def test_sniff_by_content_not_name():
    assert storage.sniff(PDF) == ("application/pdf", "pdf")
    assert storage.sniff(JPEG) == ("image/jpeg", "jpg")
    assert storage.sniff(b"\x89PNG\r\n\x1a\n....") == ("image/png", "png")
    for bad in (b"<html>", b"PK\x03\x04zip", b"GIF89a", b"", b"%PDX"):
        assert storage.sniff(bad) is None


def test_directory_store_uses_random_names_outside_static(app, world, tmp_path):
    types = {t.builtin: t for t in services.ensure_builtin_types()}
    item = services.submit_item(
        world["emp1"], world["e1"], types["insurance"],
        services.ItemData(issuer="A", reference="1", expires_on=today_uk() + timedelta(9)),
        services.Upload("../../etc/passwd<script>.pdf", PDF))
    stored = item.file
    assert stored.filename == "..etcpasswdscript.pdf" or "/" not in stored.filename
    path = tmp_path / "uploads" / stored.storage_key[:2] / stored.storage_key
    assert path.read_bytes() == PDF
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert "static" not in str(path)
    with pytest.raises(ValueError, match="bad storage key"):
        storage.DirectoryStorage(tmp_path).load("../secret")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """The S3 server of scripts/s3-test-server.sh, or a moto server process of our own."""
    if os.environ.get("TEST_S3_ENDPOINT"):
        yield os.environ["TEST_S3_ENDPOINT"]
        return
    pytest.importorskip("moto.server")
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p",
                             str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), 1).close()
                break
            except OSError:
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_s3_bucket_store_round_trip(make_app, world, s3_endpoint, monkeypatch):
    import boto3

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    bucket = f"placements-test-{os.getpid()}"
    boto3.client("s3", endpoint_url=s3_endpoint, region_name="eu-west-2").create_bucket(
        Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-2"})
    app = make_app(UPLOAD_S3_BUCKET=bucket, UPLOAD_S3_ENDPOINT_URL=s3_endpoint,
                   UPLOAD_S3_REGION="eu-west-2")
    with app.app_context():
        types = {t.builtin: t for t in services.ensure_builtin_types()}
        from placements.models import Employer, User

        emp1 = db.session.get(User, world["emp1"].id)
        e1 = db.session.get(Employer, world["e1"].id)
        item = services.submit_item(
            emp1, e1, types["insurance"],
            services.ItemData(issuer="A", reference="1", expires_on=today_uk() + timedelta(9)),
            services.Upload("certificate.pdf", PDF))
        db.session.commit()
        stored = db.session.get(StoredFile, item.file_id)
        assert isinstance(storage.storage(), storage.S3Storage)
        head = boto3.client("s3", endpoint_url=s3_endpoint, region_name="eu-west-2") \
            .head_object(Bucket=bucket, Key="compliance/" + stored.storage_key)
        assert head["ContentType"] == "application/pdf"
        assert head["ContentDisposition"] == "attachment"
        client = app.test_client()
        client.post("/auth/login", data={"email": "emp1@example.test",
                                         "password": "correct horse battery"})
        got = client.get(f"/employer/compliance/files/{stored.id}")
        assert got.status_code == 200
        assert got.data == PDF
        assert got.headers["Content-Disposition"] == 'attachment; filename="certificate.pdf"'

"""The S3 endpoint does real multipart uploads."""

from __future__ import annotations

import hashlib
import os

from odoo_operator.sandbox.s3 import S3Server

PART = 5 * 1024 * 1024  # S3's minimum size for every part but the last


async def test_multipart_upload_round_trip(s3_server: S3Server) -> None:
    parts_data = [os.urandom(PART), os.urandom(PART), os.urandom(1234)]
    async with s3_server.client() as s3:
        await s3.create_bucket(Bucket="multipart")
        upload = await s3.create_multipart_upload(Bucket="multipart", Key="dir/obj.bin")
        parts = []
        for number, data in enumerate(parts_data, start=1):
            answer = await s3.upload_part(
                Bucket="multipart",
                Key="dir/obj.bin",
                UploadId=upload["UploadId"],
                PartNumber=number,
                Body=data,
            )
            parts.append({"PartNumber": number, "ETag": answer["ETag"]})
        await s3.complete_multipart_upload(
            Bucket="multipart",
            Key="dir/obj.bin",
            UploadId=upload["UploadId"],
            MultipartUpload={"Parts": parts},
        )
        got = await s3.get_object(Bucket="multipart", Key="dir/obj.bin")
        async with got["Body"] as body:
            downloaded = await body.read()
    assert hashlib.sha256(downloaded).digest() == hashlib.sha256(b"".join(parts_data)).digest()

"""faber-backend-s3: archive faber runs to S3 or any S3-compatible store (entry point ``s3_archive``).

``plugin.S3ArchiveBackend`` is what the entry point names. boto3 is imported only when the archive is
used, so enabling the backend costs nothing on the emit path.
"""

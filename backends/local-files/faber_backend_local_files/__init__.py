"""faber-backend-local-files: the record store on local files (entry point ``local_files``).

``plugin.LocalFilesBackend`` is what the entry point names; ``store.LocalRunStore`` is the store itself,
usable without the plugin machinery.
"""

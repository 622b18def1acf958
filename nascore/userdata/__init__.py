"""The user's own datasets: image folders and CSV tables in the data folder.

Names (what a config's ``dataset`` holds) carry their kind, so a user dataset can never shadow a built-in one and
the config validator can check a name's form without touching the disk:

* ``folder:NAME``: an image folder ``<data_dir>/NAME``, either ``train/<class>/*`` and ``test/<class>/*``, or
  ``<class>/*`` alone, which is split into train and test per class (stratified) with a fixed seed;
* ``csv:NAME``: a table ``<data_dir>/NAME.csv`` or ``<data_dir>/NAME/data.csv`` with one target column.

An optional ``<data_dir>/NAME/nasboard.yaml`` holds the dataset's settings (:class:`ImageFolderSettings`,
:class:`TableSettings`).  :func:`check_dataset` says what a dataset holds and what is wrong with it without
stopping at a problem; :func:`load_image_folder` decodes every image once with PIL into uint8 tensors, cached under
``<data_dir>/.nasboard-cache/`` by a fingerprint of the files and settings, and gives normalised float tensors that
the batch streams hold on the device (as fast as digits); :func:`load_table` gives ``(X, y)`` tensors of a table.
"""
from __future__ import annotations

from nascore.userdata.check import check_dataset, render_check, sample_files
from nascore.userdata.images import (ImageFolderData, channel_stats, fingerprint, load_image_folder, scan_folder,
                                     split_single)
from nascore.userdata.names import (CACHE_DIR, CSV_PREFIX, FOLDER_PREFIX, SETTINGS_FILE, TABLE_FILE, USER_NAME_PATTERN,
                                    USER_NAME_TEXT, DataError, ImageFolderSettings, Located, TableSettings, bare_name,
                                    is_user_name, kind_of, list_user_datasets, locate, locate_path, read_settings,
                                    valid_user_name)
from nascore.userdata.tables import TableData, load_table

__all__ = ["FOLDER_PREFIX", "CSV_PREFIX", "USER_NAME_PATTERN", "USER_NAME_TEXT", "SETTINGS_FILE", "TABLE_FILE",
           "CACHE_DIR", "DataError", "ImageFolderSettings", "TableSettings", "Located", "check_dataset",
           "render_check", "sample_files", "load_image_folder", "ImageFolderData", "scan_folder", "split_single",
           "channel_stats", "fingerprint", "load_table", "TableData", "list_user_datasets", "locate", "locate_path",
           "read_settings", "is_user_name", "valid_user_name", "kind_of", "bare_name"]

"""CloudTrail for lexauthz: read the logs users have (:mod:`.read`) and turn Lex events into the IAM requests AWS
made for them (:mod:`.translate`).  The formats, the identity table and the skip codes are in
``docs/cloudtrail.md``; :mod:`lexauthz.analysis.replay` and :mod:`lexauthz.analysis.unused` use them.
"""
from .read import FLAT_COLUMNS, Record, Skip, read_file, read_records, trail_files
from .translate import (DYNAMIC_KEYS, LEX_SOURCES, NOT_LOGGED, Event, Translator, is_logged, outcome_of, session_of,
                        session_tags)

__all__ = ["Record", "Skip", "Event", "Translator", "read_records", "read_file", "trail_files", "is_logged",
           "outcome_of", "FLAT_COLUMNS", "DYNAMIC_KEYS", "LEX_SOURCES", "NOT_LOGGED", "session_tags", "session_of"]

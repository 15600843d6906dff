"""Order-independent views: each source's chain is checked across partitions before it counts.

A source writes to many partitions (its subjects' ones), so a consumer reading them in whatever
interleaving sees a source's events in no set order. The views must not depend on that order:

- **Chain stage** (``chain``). A record counts only once every earlier sequence of its source
  has been read and its ``prevhash`` links to the one before (``Chain``). A record whose
  predecessors are not there yet is *held* (``sequence_gap``) and released, in sequence order,
  when the gap fills. A record that does not link is refused (``hash_chain_broken``).
- **Forks** (``forks``). Two different events of one source with the same sequence (the second
  necessarily in another partition: a partition's own order is judged on reading) quarantine
  the source from that sequence on: both branches and every later record of the source are
  held (``fork``). What the first branch already changed is undone: each subject it touched is
  folded again from its history before that record, and what followed there is held.
- **Subject stage** (``subjects``). A subject's events all lie in one partition
  (``wrong_partition`` is refused), so its history is applied in offset order: a record behind
  a held one on the same subject is held too (``behind``) and released right after it.

So every subject's history is applied in log order, and each decision depends only on what
comes before in that history and on the complete prefix of each source's chain: any
interleaving of the partitions gives the same views (``tests/unit/views/test_interleaving.py``).

Held records are kept in the store (``held``), with the record, until released. A fork raises a
security alert at once, to the platform and the source's organisation; a gap does when the
consumer has caught up with every partition it reads, the other consumers of the store with
theirs, and the gap is still open. Several consumer processes may write one store: each batch
takes the store's batch lock (``lock_batches``) first, so release and undo see every batch
committed before theirs, whichever process wrote it.

The modules, bottom first: ``records`` (the types), ``store`` (the rows: batch lock, chains,
held records), ``held`` (the held records one batch sees), ``batch`` (what the stages share),
``subjects``, ``forks``, ``chain`` (the stages), ``gate`` (``Gate``, a batch's entry point).
"""

from consumers.holding.gate import Gate
from consumers.holding.held import LOAD_ALL
from consumers.holding.records import Chain, Held, Hold, position_of
from consumers.holding.store import (
    bump_held_version,
    held_records,
    held_version,
    lock_batches,
)
from consumers.stored_record import StoredRecord

__all__ = ["LOAD_ALL", "Chain", "Gate", "Held", "Hold", "StoredRecord", "bump_held_version",
           "held_records", "held_version", "lock_batches", "position_of"]

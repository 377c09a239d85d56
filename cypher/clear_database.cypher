// Delete everything in the database, in batches small enough for the transaction
// memory pool: relationships first, then nodes. Used by `mdesign kb reset --yes` and by
// the test suite; auto-commit transactions, one statement after the other.
// internal (it writes): run by mdesign itself; `mdesign query` needs --allow-write
MATCH ()-[r]->()
CALL (r) { DELETE r } IN TRANSACTIONS OF 20000 ROWS
;
MATCH (n)
CALL (n) { DELETE n } IN TRANSACTIONS OF 20000 ROWS

// Wait (up to 300 s) until every index is online, e.g. after `kb init`.
CALL db.awaitIndexes(300)

// Every task with its properties, by name.
// public
MATCH (t:Task)
RETURN t {.*} AS task
ORDER BY t.name

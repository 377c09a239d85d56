// Every task with its properties, by name.
MATCH (t:Task)
RETURN t {.*} AS task
ORDER BY t.name

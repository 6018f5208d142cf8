package postgres

// RefusePoisonSQL is refusePoisonSQL, for the package's external tests.
const RefusePoisonSQL = refusePoisonSQL

package migrations

// UpTo lets tests stop at an older schema.
var UpTo = upTo

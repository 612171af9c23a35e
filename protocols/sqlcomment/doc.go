// Package sqlcomment extracts trace-correlation keys from the comments of
// SQL text, for the SQL protocol parsers (mysql, postgresql), and from
// MongoDB command comments (protocols/mongodb).
//
// Applications and ORMs put the trace context of the request that issued a
// query in a comment of the query, most often in the sqlcommenter format
// (https://google.github.io/sqlcommenter/spec/):
//
//	SELECT * FROM orders /*traceparent='00-0af7...-b7ad...-01',tracestate='congo%3Dt61'*/
//
// [Extract] finds the comments of a query — block comments `/* ... */`,
// line comments `-- ...` and `# ...` (MySQL) — outside string literals and
// quoted identifiers, and reads key-value pairs inside them in three forms:
// `key='value'` (sqlcommenter: keys and values URL-encoded, values single
// quoted, pairs comma separated), `key=value` and `key: value` (pairs
// separated by commas, semicolons or white space). MySQL executable comments
// (`/*! ... */`) and optimizer hints (`/*+ ... */`) are SQL, not comments,
// and are skipped.
//
// Keys are matched case-insensitively with `-` and `_` equivalent:
// `traceparent` gives [protocols.LinkTraceparent], `tracestate`
// [protocols.LinkTracestate], and `x-request-id`, `request-id`, `requestid`
// and the names of [protocols.Config.RequestIDHeaders] give
// [protocols.LinkXRequestID]. The first occurrence of a key wins, and a key
// already present in the links passed in is not added again.
//
// [Pairs] reads one comment body given on its own, for comments carried
// outside SQL text (a MongoDB command's comment field, see protocols/mongodb).
//
// # API stability
//
// Extract's signature and the mapping above are relied upon by every SQL
// parser; new key mappings may be added, none removed.
//
// # Allocation and ownership
//
// Values are substrings of the query (no copy) unless they had to be
// URL-decoded. Extract keeps no state, allocates nothing when the query has
// no matching key, and is safe for concurrent use.
package sqlcomment

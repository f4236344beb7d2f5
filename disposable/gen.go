package disposable

// The embedded lists of this package, freemail and role come from one
// generator; it needs npm and the npm registry.
//go:generate go run ../internal/listgen -root ..

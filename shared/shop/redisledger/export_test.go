package redisledger

// SetRemembered sets how many order IDs l remembers, so a test can fill the bound.
func SetRemembered(l *Ledger, n int) { l.limit = n }

package mapper

// InOrder returns a Config.Done that hands the results of jobs to fn in
// the jobs' order rather than as they end (GNU parallel's --keep-order):
// a job that ends early is held until every job listed before it has
// ended. Results of jobs not in the list go to fn at once. Like Done, it
// is called from the run's flows, one at a time.
func InOrder(jobs []Job, fn func(Result)) func(Result) {
	pos := make(map[int]int, len(jobs)) // Seq -> index in jobs
	for i, j := range jobs {
		pos[j.Seq] = i
	}
	held := make([]*Result, len(jobs))
	next := 0 // jobs before this one went to fn
	return func(r Result) {
		i, ok := pos[r.Seq]
		if !ok {
			fn(r)
			return
		}
		held[i] = &r
		for next < len(held) && held[next] != nil {
			fn(*held[next])
			held[next] = nil // its output is printed: let it go
			next++
		}
	}
}

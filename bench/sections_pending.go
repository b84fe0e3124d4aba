package bench

import "context"

func runSearch(ctx context.Context, e *env) (*SectionResult, error) {
	return &SectionResult{Note: "documents.search, the bleve index and its tailer are not in this build"}, nil
}

func runFreshness(ctx context.Context, e *env) (*SectionResult, error) {
	return &SectionResult{Note: "the index tailer (index_log → local bleve) is not in this build"}, nil
}

func runMemory(ctx context.Context, e *env) (*SectionResult, error) {
	return &SectionResult{Note: "without search there is no index to hold 100k chunks in this build"}, nil
}

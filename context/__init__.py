"""Token budget, compaction, session memory, code index, retrieval and repo map."""

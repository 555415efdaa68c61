"""Generation: seed -> world (entities, facts) -> renderings (passages, paraphrases, statements, QA) -> probes -> bundles."""

"""Chapter memory: chunking, embeddings, the Chroma store and retrieval."""

"""What the module's tests share: a class definition as Weaviate stores it."""

from __future__ import annotations

BOOKS = {
    "class": "Books",
    "moduleConfig": {
        "reranker-nvidia": {"model": "nvidia/rerank-qa-mistral-4b", "baseURL": "http://nim:8000"},
        "text2vec-model2vec": {"vectorizeClassName": False},
    },
    "vectorConfig": {"title_vector": {"vectorizer": {"text2vec-openai": {"model": "m"}}}},
    "properties": [
        {
            "name": "title",
            "dataType": ["text"],
            "moduleConfig": {"reranker-nvidia": {"skip": True}},
        },
        {"name": "year", "dataType": ["int"]},
        {"name": "author", "dataType": ["Author"]},
    ],
}

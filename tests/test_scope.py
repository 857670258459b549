"""Which documents a question names (speaker, country, title), and the topic it asks about."""

from __future__ import annotations

import pytest

from index.build import ChunkingConfig
from index.documents import Document
from index.embedding import Embedder
from index.store import IndexStore, StoredDocument
from qa.scope import DocumentCatalog, countries_in, country_names, initials, speaker_of
from qa.service import QAService

STATEMENT = (
    "Li Wei said that trade must stay open. Li Wei said that China supports the customs union. "
    "China will help its neighbours. China opposes protectionism."
)
BRAZIL = "We reduced deforestation in the Amazon by half. Brazil hosts the climate summit."
FRANCE = "France supports the Amazon fund. Paris will host the ocean conference."


def stored(doc_id: str, text: str, title: str = "", **metadata: object) -> StoredDocument:
    return StoredDocument(doc_id, title, text, dict(metadata), "", 1)


@pytest.fixture(scope="module")
def catalog() -> DocumentCatalog:
    return DocumentCatalog(
        {
            "li.txt": stored("li.txt", STATEMENT, "Li Wei: keep trade open"),
            "BRA": stored("BRA", BRAZIL, "BRA statement", iso3="BRA"),
            "FRA": stored("FRA", FRANCE, "FRA statement", iso3="FRA"),
        }
    )


def test_countries_have_names_demonyms_and_capitals() -> None:
    names = country_names()
    assert {"brazil", "brazilian", "brasília"} <= set(names["BRA"])
    assert {"united states", "american"} <= set(names["USA"])


def test_a_statement_s_speaker_comes_from_its_title_or_its_text() -> None:
    assert speaker_of(stored("a", STATEMENT, "Li Wei: keep trade open")) == "Li Wei"
    assert speaker_of(stored("b", STATEMENT, "Trade")) == "Li Wei"
    assert speaker_of(stored("c", BRAZIL, "BRA statement")) is None


@pytest.mark.parametrize(
    ("question", "doc_ids", "topic"),
    [
        ("What did Brazil say about deforestation?", {"BRA"}, "deforestation"),
        ("What did the Brazilian delegation say on the Amazon?", {"BRA"}, "the Amazon"),
        ("What did Li Wei say about customs?", {"li.txt"}, "customs"),
        ("Does China support the customs union?", {"li.txt"}, "Does support the customs union"),
        ("What does Paris think of the Amazon fund?", {"FRA"}, "the Amazon fund"),
        ("What did France say about Brazil?", {"FRA"}, "Brazil"),
    ],
)
def test_named_documents_restrict_and_leave_the_topic(
    catalog: DocumentCatalog, question: str, doc_ids: set[str], topic: str
) -> None:
    scope = catalog.scope(question)
    assert scope.doc_ids == doc_ids
    assert scope.topic == topic


def test_the_speaker_named_by_role_is_the_statement_s(catalog: DocumentCatalog) -> None:
    scope = catalog.scope("What did the ambassador say about protectionism?")
    assert (scope.doc_ids, scope.topic, scope.speaker_reference) == (
        {"li.txt"},
        "protectionism",
        True,
    )
    # A collection that knows no speaker is not restricted by "he".
    speeches = DocumentCatalog({"BRA": stored("BRA", BRAZIL, "BRA statement", iso3="BRA")})
    assert speeches.scope("What did he say about the Amazon?").doc_ids is None
    # A speaker it cannot name ("What did Lula say ...") restricts nothing either.
    assert catalog.scope("What did Lula say about protectionism?").doc_ids is None
    assert catalog.scope("What did Brazil say?").overview
    assert not catalog.scope("Who supports the Amazon fund?").overview


def test_a_question_naming_no_document_is_left_whole(catalog: DocumentCatalog) -> None:
    scope = catalog.scope("Which fund supports the forest?")
    assert (scope.doc_ids, scope.topic) == (None, "Which fund supports the forest?")


def test_the_topic_decides_the_citation_within_the_named_document(
    embedder: Embedder, tmp_path_factory: pytest.TempPathFactory
) -> None:
    service = QAService(
        IndexStore(tmp_path_factory.mktemp("scope-index")), embedder, ChunkingConfig()
    )
    service.apply(
        [
            Document("li.txt", STATEMENT, "Li Wei: keep trade open"),
            Document("BRA", BRAZIL, "BRA statement", {"iso3": "BRA"}),
            Document("FRA", FRANCE, "FRA statement", {"iso3": "FRA"}),
        ]
    )
    answer = service.ask("What did Brazil say about the Amazon?")
    assert answer.answered and answer.scope == ("BRA",)
    assert answer.citations[0].text == "We reduced deforestation in the Amazon by half."
    answer = service.ask("What did Li Wei say about protectionism?")
    assert answer.citations[0].text == "China opposes protectionism."
    overview = service.ask("What did France say?")
    assert overview.answered and {c.doc_id for c in overview.citations} == {"FRA"}


def test_official_names_give_their_initials_and_short_names_need_capitals() -> None:
    assert initials("people's republic of china") == "prc"
    assert initials("north korea") is None
    assert countries_in("What did Tokyo say about the DPRK?") == [("Tokyo", "JPN"), ("DPRK", "PRK")]
    assert countries_in("tell us about trade") == []


def test_a_short_country_name_in_capitals_names_its_document(catalog: DocumentCatalog) -> None:
    scope = catalog.scope("What did the FRA delegation say about the Amazon fund?")
    assert scope.doc_ids == {"FRA"}
    assert catalog.scope("What did fra say?").doc_ids is None


def test_a_person_a_speech_names_is_not_its_speaker() -> None:
    speech = (
        "Mr. President,\n\nWe meet at a crossroads. President Li Wei stressed that trade must "
        "stay open. President Li Wei pointed out that we must act together."
    )
    assert speaker_of(stored("e", speech, "CHN statement")) is None
    byline = "Statement by H.E. Mr. Wang Fang, Minister of Foreign Affairs\n\n" + speech
    assert speaker_of(stored("f", byline, "CHN statement")) == "Wang Fang"
    assert speaker_of(stored("g", speech, "Statement by Ms. Ana Silva")) == "Ana Silva"


def test_a_title_is_not_part_of_the_speaker_s_name() -> None:
    text = "President Li Wei said that trade must stay open. President Li Wei said so twice."
    assert speaker_of(stored("d", text, "Trade")) == "Li Wei"


def test_a_country_inside_a_longer_name_is_part_of_the_topic(catalog: DocumentCatalog) -> None:
    scope = catalog.scope("What did France say about the South China Sea?")
    assert (scope.doc_ids, scope.topic) == ({"FRA"}, "the South China Sea")
    # Beside a capitalised word on one side only it still names its document.
    assert catalog.scope("What did the Brazil delegation say?").doc_ids == {"BRA"}
    assert catalog.scope("What did President Li Wei say about Brazil?").doc_ids == {"li.txt"}


def test_a_name_is_found_whatever_character_it_begins_with() -> None:
    catalog = DocumentCatalog({"p": stored("p", "Peace first.", "«Peace first» address")})
    assert catalog.scope("What did the «Peace first» address say?").doc_ids == {"p"}
    assert catalog.scope("What did the Peace first address say?").doc_ids is None

"""The shared "contains" search: LIKE's wildcards and its escape taken literally."""

import sqlalchemy as sa

from placements.querying import contains_text, like_pattern


def test_like_pattern_escapes_wildcards():
    assert like_pattern("  Acme ") == "%acme%"
    assert like_pattern("50%") == "%50\\%%"
    assert like_pattern("a_b") == "%a\\_b%"
    assert like_pattern("c:\\x") == "%c:\\\\x%"


def test_contains_text_matches_literally_in_sqlite():
    engine = sa.create_engine("sqlite://")
    names = sa.table("names", sa.column("name"))
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE names (name TEXT)")
        conn.exec_driver_sql("INSERT INTO names VALUES ('50% off'), ('500 Ltd'), "
                             "('A_B'), ('AXB'), ('back\\slash'), ('Plain')")

        def found(search):
            return sorted(conn.scalars(sa.select(names.c.name).where(
                contains_text(search, names.c.name))))

        assert found("50%") == ["50% off"]
        assert found("a_b") == ["A_B"]
        assert found("\\") == ["back\\slash"]
        assert found("PLAIN") == ["Plain"]

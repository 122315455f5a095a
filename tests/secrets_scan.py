"""Read every column of every table of a database, looking for given strings."""

from __future__ import annotations

from django.db import connections


def find_in_database(alias: str, needles: list[str]) -> list[tuple[str, str, str]]:
    """Return (table, column, needle) for each column whose text holds a needle.

    Every column is cast to text, so JSON, binary-as-text and numbers are read
    too: the question is "is this string anywhere in the dump?".
    """
    connection = connections[alias]
    quote = connection.ops.quote_name
    hits = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            for column in connection.introspection.get_table_description(cursor, table):
                for needle in needles:
                    cursor.execute(
                        f"SELECT 1 FROM {quote(table)} "  # noqa: S608  (names from introspection)
                        f"WHERE CAST({quote(column.name)} AS TEXT) LIKE %s LIMIT 1",
                        [f"%{needle}%"],
                    )
                    if cursor.fetchone():
                        hits.append((table, column.name, needle))
    return hits


def database_text(alias: str) -> str:
    """Every value of every column of every table, as text: a dump to search later."""
    connection = connections[alias]
    quote = connection.ops.quote_name
    chunks = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            for column in connection.introspection.get_table_description(cursor, table):
                cursor.execute(
                    f"SELECT CAST({quote(column.name)} AS TEXT) FROM {quote(table)}"  # noqa: S608
                )
                chunks.extend(value for (value,) in cursor.fetchall() if value)
    return "\n".join(chunks)

"""A GIN index for the directory's full-text search, on PostgreSQL only.

The embedded default (SQLite) has no GIN indexes and searches with icontains
instead (circles.selectors.search_circles), so there the index is recorded in
the migration state but not built.
"""

import django.contrib.postgres.indexes
import django.contrib.postgres.search
from django.db import migrations


class AddIndexOnPostgreSQL(migrations.AddIndex):
    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)


class Migration(migrations.Migration):
    dependencies = [
        ("circles", "0006_calendarfeed_nonce"),
    ]

    operations = [
        AddIndexOnPostgreSQL(
            model_name="circle",
            index=django.contrib.postgres.indexes.GinIndex(
                django.contrib.postgres.search.SearchVector(
                    "name", "public_area", "description", config="english"
                ),
                name="circle_search",
            ),
        ),
    ]

"""dj-stripe's migrations for this project (settings.MIGRATION_MODULES).

dj-stripe 2.11 ships migrations that take over a minute to plan on every
`migrate` (hundreds of RemoveField steps). This package holds one initial
migration generated from its current models (`manage.py makemigrations
djstripe`), which a new database applies in about a second. After upgrading
dj-stripe, run `manage.py makemigrations djstripe` to add the difference.
"""

from prompthouse.cli import run

run()

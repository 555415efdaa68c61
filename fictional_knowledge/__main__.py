from fictional_knowledge.cli import app

app(prog_name="fkgen")

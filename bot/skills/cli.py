"""``skillspark skills ...``: find skills in a sentence, score the finder, draw a card."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from bot.skills.evaluate import DEFAULT_SENTENCES, Counts, Report, evaluate, load_sentences
from bot.skills.taxonomy import Taxonomy, TaxonomyError, load_taxonomy

skills_app = typer.Typer(help="The skill finder: extract, evaluate, card.", no_args_is_help=True)

#: The targets the finder must meet on the annotated sentences (category level).
TARGET_PRECISION = 0.90
TARGET_RECALL = 0.85

TaxonomyOption = Annotated[
    Path | None,
    typer.Option("--taxonomy", help="The skills.yml to use (default: the project's)."),
]


def _taxonomy(path: Path | None) -> Taxonomy:
    """Load the taxonomy from ``path`` or from the configured dialogues folder."""
    if path is None:
        from bot.settings import get_settings

        path = Path(getattr(get_settings(), "dialogues_dir", "dialogues")) / "skills.yml"
    try:
        return load_taxonomy(path)
    except (OSError, TaxonomyError) as exc:
        typer.echo(f"cannot load the taxonomy: {exc}", err=True)
        raise typer.Exit(2) from exc


@skills_app.command("extract")
def extract(
    text: Annotated[str, typer.Argument(help="What a member said.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list.")] = False,
    taxonomy: TaxonomyOption = None,
) -> None:
    """Show the skills found in TEXT."""
    from bot.skills.finder import SpacySkillFinder

    found = SpacySkillFinder(_taxonomy(taxonomy)).find(text)
    rows = [
        {
            "skill": f.skill,
            "label": f.label,
            "category": f.category,
            "evidence": f.evidence,
            "learning_wish": f.learning_wish,
        }
        for f in found
    ]
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False))
        return
    if not rows:
        typer.echo("no skills found")
    for row in rows:
        wish = "  (wants to learn)" if row["learning_wish"] else ""
        typer.echo(f'{row["skill"]:<24} {row["category"]:<16} "{row["evidence"]}"{wish}')


def _line(name: str, counts: Counts) -> str:
    """One table line of precision, recall and F1."""
    return (
        f"{name:<16} {counts.precision:>9.3f} {counts.recall:>7.3f} {counts.f1:>7.3f}"
        f" {counts.tp:>5} {counts.fp:>4} {counts.fn:>4}"
    )


def print_report(report: Report, *, misses: bool = False) -> None:
    """Print an evaluation report as a table."""
    typer.echo(f"{report.sentences} sentences, scored at category level")
    typer.echo(
        f"{'category':<16} {'precision':>9} {'recall':>7} {'F1':>7} {'tp':>5} {'fp':>4} {'fn':>4}"
    )
    for category, counts in report.per_category.items():
        typer.echo(_line(category, counts))
    typer.echo(_line("OVERALL", report.overall))
    typer.echo(_line("learning wishes", report.wishes))
    skills = report.skills
    typer.echo(f"skill ids found where annotated: {skills.tp}/{skills.tp + skills.fn}")
    typer.echo(
        "sentences right by kind: "
        + ", ".join(
            f"{tag} {right}/{total}" for tag, (right, total) in sorted(report.per_tag.items())
        )
    )
    if misses:
        for miss in report.misses:
            typer.echo(f"MISS {miss.text!r}: expected {miss.expected}, found {miss.found}")


@skills_app.command("evaluate")
def evaluate_command(
    sentences: Annotated[
        Path, typer.Option("--sentences", help="Annotated sentences (YAML).")
    ] = DEFAULT_SENTENCES,
    as_json: Annotated[bool, typer.Option("--json", help="Print the scores as JSON.")] = False,
    show_misses: Annotated[
        bool, typer.Option("--misses", help="List the sentences the finder got wrong.")
    ] = False,
    check: Annotated[
        bool,
        typer.Option(
            "--check",
            help=f"Fail unless precision >= {TARGET_PRECISION} and recall >= {TARGET_RECALL}.",
        ),
    ] = False,
    taxonomy: TaxonomyOption = None,
) -> None:
    """Score the skill finder on the annotated sentences (precision, recall, F1)."""
    from bot.skills.finder import SpacySkillFinder

    finder = SpacySkillFinder(_taxonomy(taxonomy))
    report = evaluate(finder, load_sentences(sentences))
    if as_json:
        typer.echo(json.dumps(report.as_dict(), indent=2))
    else:
        print_report(report, misses=show_misses)
    overall = report.overall
    if check and (overall.precision < TARGET_PRECISION or overall.recall < TARGET_RECALL):
        typer.echo("below target", err=True)
        raise typer.Exit(1)


@skills_app.command("card")
def card_command(
    name: Annotated[str, typer.Argument(help="The member's first name.")],
    out: Annotated[Path, typer.Option("--out", help="Where to write the PNG.")],
    skill: Annotated[
        list[str] | None, typer.Option("--skill", help="A skill id (repeat for more).")
    ] = None,
    wish: Annotated[
        list[str] | None, typer.Option("--wish", help="Something to learn (repeat for more).")
    ] = None,
    taxonomy: TaxonomyOption = None,
) -> None:
    """Draw a skills picture card as a PNG file."""
    from bot.skills.card import render_card

    tax = _taxonomy(taxonomy)
    infos = []
    for sid in skill or []:
        info = tax.get(sid)
        if info is None:
            typer.echo(f"unknown skill id {sid!r}", err=True)
            raise typer.Exit(2)
        infos.append(info)
    out.write_bytes(render_card(name, infos, list(wish or [])))
    typer.echo(f"wrote {out}")

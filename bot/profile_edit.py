"""Members remove a skill from their profile (buttons under "My skills")."""

from __future__ import annotations

from sqlalchemy import select

from bot.conversation.context import Extension, TurnContext
from storage import repo
from storage.models import MemberSkill

PREFIX = "rm:"


class RemoveSkill(Extension):
    """An engine extension: "Remove a skill" lists confirmed skills as buttons."""

    prefix = PREFIX
    commands: tuple[str, ...] = ("removeskill",)
    message_keys: tuple[str, ...] = (
        "button.remove_skill",
        "button.keep_all",
        "profile.which",
        "profile.removed",
        "profile.kept",
        "profile.already_removed",
        "myskills.none",
    )

    def profile_buttons(self, confirmed: int) -> tuple[tuple[str, str], ...]:
        """ "Take a skill off my list" under "My skills", once there is one."""
        return ((f"{PREFIX}list", "button.remove_skill"),) if confirmed else ()

    async def on_command(self, ctx: TurnContext, command: str, args: str) -> None:
        """Offer the member's confirmed skills as buttons to remove."""
        await self._offer(ctx)

    async def on_button(self, ctx: TurnContext, choice: str) -> None:
        """``rm:list`` offers the list; ``rm:<skill id>`` removes that skill."""
        target = choice.removeprefix(PREFIX)
        if target == "list":
            await self._offer(ctx)
            return
        if target == "keep":
            ctx.say("profile.kept")
            await ctx.show_where()
            return
        row = (
            await ctx.session.execute(
                select(MemberSkill).where(
                    MemberSkill.member_id == ctx.member.id,
                    MemberSkill.skill_id == target,
                    MemberSkill.status == "confirmed",
                )
            )
        ).scalar_one_or_none()
        if row is None:
            ctx.say("profile.already_removed")
        else:
            row.status = "removed"
            await repo.audit(
                ctx.session, "member", "skill_removed", ctx.member.id, {"skill": target}
            )
            ctx.say("profile.removed", label=row.label)
        await ctx.show_where()

    async def _offer(self, ctx: TurnContext) -> None:
        """Buttons for each confirmed skill, and one to keep them all."""
        rows = (
            await ctx.session.execute(
                select(MemberSkill.skill_id, MemberSkill.label)
                .where(MemberSkill.member_id == ctx.member.id, MemberSkill.status == "confirmed")
                .order_by(MemberSkill.id)
                .limit(20)
            )
        ).all()
        if not rows:
            ctx.say("myskills.none")
            await ctx.show_where()
            return
        buttons = [(f"{PREFIX}{sid}"[:48], f"🗑️ {label}") for sid, label in rows]
        buttons.append((f"{PREFIX}keep", ctx.text("button.keep_all")))
        ctx.offer_labels("profile.which", tuple(buttons))

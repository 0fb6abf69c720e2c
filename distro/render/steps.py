"""The next steps after a plan: numbered lines, each command whole on a line of its own."""

from __future__ import annotations

from distro.render.parts import Section, steps_section
from distro.views.steps import InstanceStep, NextSteps


def step_lines(steps: NextSteps) -> list[str]:
    """The Next Steps of *steps* as lines; a command is a line of its own, indented by two."""
    busy = [i for i in steps.instances if not i.empty]
    where = "machine" if steps.runners_per_host else "instance"
    lines = [
        f"Replace ec2-instance-N with each {where}'s host and {steps.runner_dir} with the "
        "runner's folder there.",
    ]
    if any(i.change is not None for i in steps.instances):
        return [*lines, *_after_replan(steps, busy), *_last_steps(steps)]
    lines += [
        f"1. Copy each {where}'s files to it:",
        *[f"  {copy}" for copy in steps.copies],
        *[_nothing_to_do(i) for i in steps.instances if i.empty],
        f"2. On each {where}, check the files are there:",
        f"  {steps.check}",
        *_starts(steps, busy),
    ]
    split = [i.spaces for i in busy if i.spaces is not None]
    if split:
        lines += [
            "   Today's runner skips spaceAssignments: on each instance below, also migrate "
            "its share of the split customers' spaces:",
            *[f"  {loop}" for loop in split],
        ]
    return [*lines, *_last_steps(steps)]


def _starts(steps: NextSteps, busy: list[InstanceStep]) -> list[str]:
    """Step 3: the runners to start, by machine when each runs several."""
    if steps.runners_per_host is None:
        return [
            "3. Start the runner on each instance:",
            *[f"  {i.start}" for i in busy if i.start is not None],
        ]
    lines = [
        f"3. On each machine, start its runners in the background ({steps.runners_per_host} a "
        "machine, one upload at a time each), each with its own log:"
    ]
    for host in dict.fromkeys(i.host for i in busy):
        lines += [f"   On {host}:", *[f"  {i.start}" for i in busy if i.host == host and i.start]]
    return lines


def _last_steps(steps: NextSteps) -> list[str]:
    return [
        "4. Here, re-check that the files are the ones written:",
        f"  {steps.verify}",
        "5. Mid-migration, to re-balance what is left around what has started:",
        f"  {steps.replan}",
    ]


def _after_replan(steps: NextSteps, busy: list[InstanceStep]) -> list[str]:
    """Steps 1-3 after a replan: copy and (re)start only where a list changed."""
    moved = [i for i in busy if i.change in ("restart", "start")]
    restart = [i for i in moved if i.change == "restart" and i.start is not None]
    start = [i for i in moved if i.change == "start" and i.start is not None]
    same = [str(i.instance_id) for i in steps.instances if i.change == "unchanged"]
    lines = [
        "1. Copy the files whose list changed to their instances:",
        *[f"  {copy}" for copy in steps.copies],
        *[_nothing_to_do(i) for i in steps.instances if i.empty and i.change != "stop"],
        *[
            f"   Instance {i.instance_id}: its list is now empty; stop its runner if it still "
            "runs (a running runner keeps the list it read)"
            for i in steps.instances
            if i.change == "stop"
        ],
        "2. On each of them, check the files are there:",
        f"  {steps.check}",
    ]
    # Step 3 is always numbered, whichever of its parts apply, so the steps read 1 to 5.
    if restart:
        lines += [
            "3. Restart the runner where its list changed (a running runner keeps the list it "
            "read; stop it, then start it again):",
            *[f"  {i.start}" for i in restart],
        ]
    if start:
        lead = "   Start" if restart else "3. Start"
        lines += [f"{lead} the runner on each new instance:", *[f"  {i.start}" for i in start]]
    if not restart and not start:
        lines.append("3. No runner needs a restart or a start.")
    if same:
        which = (
            f"instance {same[0]}: its list"
            if len(same) == 1
            else f"instances {', '.join(same)}: their lists"
        )
        lines.append(f"   Leave {which} did not change, so leave its runner alone.")
    return lines


def _nothing_to_do(instance: InstanceStep) -> str:
    return (
        f"   Instance {instance.instance_id}: nothing to do (the plan gives it no customer and "
        "no space): copy nothing, start no runner"
    )


def next_steps_section(steps: NextSteps) -> Section:
    """The Next Steps of *steps*, unframed so that each command copies exactly."""
    return steps_section("Next Steps", step_lines(steps))


def would_generate_section(command: str) -> Section:
    """What to run to write the plan an analyze run showed."""
    lines = ["This run wrote no instance file. To write the plan and see how to deploy it:"]
    return steps_section("Next Steps", [*lines, f"  {command}"])

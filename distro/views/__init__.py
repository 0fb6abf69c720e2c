"""What distro shows, as plain data: the analysis, the replan and the next steps.

Each view is frozen records made by a pure function (no file-system call, no
AWS, no rich); ``distro.render`` draws them and ``--json`` prints them, so the
screen, the JSON and the HTML page cannot disagree.
"""

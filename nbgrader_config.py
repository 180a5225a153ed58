"""nbgrader configuration: the repository root is the course root.

    nbgrader generate_assignment a1_backprop --force   # solutions/ -> assignments/
    nbgrader autograde a1_backprop                     # submitted/ -> autograded/, gradebook.db
    nbgrader generate_feedback a1_backprop             # autograded/ -> feedback/

See docs/instructors.md for the whole cycle.
"""

import os

c = get_config()  # noqa: F821 (provided by nbgrader when it loads this file)

c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "assignments"
c.CourseDirectory.submitted_directory = "submitted"
c.CourseDirectory.autograded_directory = "autograded"
c.CourseDirectory.feedback_directory = "feedback"
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(c.CourseDirectory.root, "gradebook.db")

# The release keeps no outputs; the test cells' `check(...)` calls run again at grading time.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
# A notebook's checks take seconds; its training test up to its own limit (a4: 300 s on two
# cores), so a cell may take a little longer than that.
c.ExecutePreprocessor.timeout = 360

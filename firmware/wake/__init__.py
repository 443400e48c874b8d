"""The wake: planner and cycle. HEAP0 is the heap in use before the firmware's first import
(the boot code sets it), so heap figures count everything the wake itself uses."""
HEAP0 = None

"""Load tests: Locust users of the API, and the traffic images they send (`make loadtest`)."""

# The name Locust reports a whole job under (submit, then poll until it ends); bench reads it.
JOB_NAME = "job (submit+poll)"

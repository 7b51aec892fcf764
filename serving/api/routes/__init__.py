"""One router per topic; `app.py` mounts them."""

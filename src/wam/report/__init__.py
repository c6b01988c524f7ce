"""Reports: media (videos, frame strips), plots and the static HTML page."""

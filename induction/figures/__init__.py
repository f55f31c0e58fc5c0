"""Figures: Plotly figures as pure functions of results (`plots`), and paper exports (`export`)."""

"""The Streamlit web UI; it talks to the API over HTTP and holds no logic of its own."""

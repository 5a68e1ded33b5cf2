{
  "apps": [
    { "name": "backend", "script": "python", "args": "-m uvicorn app.main:app --port 8000",
      "cwd": "./backend", "instances": 1 }
  ]
}

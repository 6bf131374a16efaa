{
  "targets": [
    {
      "target_name": "death_bell",
      "sources": ["native/death_bell.c"],
      "cflags": ["-O2", "-Wall", "-Wextra"]
    }
  ]
}
